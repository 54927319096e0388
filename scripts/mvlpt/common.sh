# Shared by the scripts/mvlpt/*.sh scripts. Environment (all optional except DATA):
#   DATA       dataset root (required)               OUTPUT   output root (default: output)
#   SEEDS      seeds (default: "1 2 3")               BACKBONE CLIP backbone (default: ViT-B/16)
#   WEIGHTS    open_clip tag, weights file or none (default: openai)
#   CONFIG     method yaml (default: configs/trainers/MVLPT/vit_b16.yaml, the paper's for every table)
#   EPOCHS     OPTIM.MAX_EPOCH (default: 200, the paper's)
#   EXTRA_OPTS more engine KEY VALUE pairs, appended last (they win)
#   DRY_RUN=1  print the commands (one "+ ..." line each) instead of running them
#   PYTHON     interpreter (default: python)
# Every stage skips finished runs, so rerunning a script resumes it.
: "${DATA:?set DATA=/path/to/datasets (see datasets/README.md)}"
OUTPUT="${OUTPUT:-output}"
BACKBONE="${BACKBONE:-ViT-B/16}"
WEIGHTS="${WEIGHTS:-openai}"
SEEDS="${SEEDS:-1 2 3}"
PY="${PYTHON:-python}"
DRY_RUN="${DRY_RUN:-0}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIG="${CONFIG:-$REPO/configs/trainers/MVLPT/vit_b16.yaml}"
# The yaml holds the paper's optimisation (SGD, lr 0.002, cosine, 1 warm-up epoch at 1e-5, batch 32);
# model selection on the validation set as the official scripts do (TEST.FINAL_MODEL best_val).
PAPER_OPTS=(TEST.FINAL_MODEL best_val OPTIM.MAX_EPOCH "${EPOCHS:-200}" ${EXTRA_OPTS:-})
# the stages that do not train (zero-shot, linear probe) still take EXTRA_OPTS (input size, loader, ...)
EVAL_OPTS=(${EXTRA_OPTS:-})
TASKS_YAML="$REPO/configs/mvlpt/tasks.yaml"
task_list() { "$PY" -c "import yaml,sys; print(','.join(yaml.safe_load(open('$TASKS_YAML'))['$1']))"; }
say() { local out="+"; for a in "$@"; do out+=" $(printf '%q' "$a")"; done; echo "$out"; }
run_or_say() { if [ "$DRY_RUN" = 1 ]; then say "$@"; else "$@"; fi; }
mt() { local stage="$1"; shift; run_or_say "$PY" -m mvlpt.multitask "$stage" --config-file "$CONFIG" "$@"; }
tables() { run_or_say "$PY" -m mvlpt.results "$@"; }
# in a dry run the source prompt does not exist yet; say so instead of stopping
need_source() {
  [ -f "$1/source.json" ] && return 0
  if [ "$DRY_RUN" = 1 ]; then echo "# (dry run) needs the source prompt $1"; return 0; fi
  echo "no source prompt at $1: run scripts/mvlpt/source_coop11.sh $2 first" >&2; exit 2
}

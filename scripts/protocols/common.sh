# Shared by scripts/protocols/*.sh. Environment (all optional except DATA):
#   DATA       dataset root (required)            OUTPUT   output root (default: output)
#   SEEDS      seeds (default: "1 2 3")            DATASETS datasets (default: the protocol's list)
#   BACKBONE   overrides the yaml's backbone       WEIGHTS  open_clip tag, weights file or none (default: openai)
#   EPOCHS     overrides the yaml's OPTIM.MAX_EPOCH
#   EXTRA_OPTS more engine KEY VALUE pairs, appended last (they win)
#   DRY_RUN=1  print the commands (one "+ ..." line each) instead of running them
#   PYTHON     interpreter (default: python)
# Each run writes OUTPUT_DIR/run.json (its identity: method, tasks, shots, protocol, seed, split); the
# protocol is passed as MVLPT_PROTOCOL. Finished runs (results.json) are skipped, so rerunning resumes.
: "${DATA:?set DATA=/path/to/datasets}"
OUTPUT="${OUTPUT:-output}"; WEIGHTS="${WEIGHTS:-openai}"; BACKBONE="${BACKBONE:-}"
SEEDS="${SEEDS:-1 2 3}"; PY="${PYTHON:-python}"; DRY_RUN="${DRY_RUN:-0}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONFIGS="$REPO/configs/trainers"
COOP11="ImageNet Caltech101 OxfordPets StanfordCars OxfordFlowers Food101 FGVCAircraft SUN397 DescribableTextures EuroSAT UCF101"

say() {  # print a command as one shell-quoted line
  local out="+"; for a in "$@"; do out+=" $(printf '%q' "$a")"; done; echo "$out"
}

# method_yaml PROTOCOL TRAINER [SHOTS] [DATASET] -> the method's paper configuration for this protocol
method_yaml() {
  local p="$1" t="$2" k="${3:-16}" d="${4:-}" f=""
  case "$t:$p" in
    CoOp:fewshot)  # CoOp paper: 50 epochs for 1-2 shots, 100 for 4-8, 200 for 16; ImageNet: 50 for all
      if [ "$d" = ImageNet ] || [ "$k" -le 2 ]; then f=CoOp/vit_b16_ep50.yaml
      elif [ "$k" -le 8 ]; then f=CoOp/vit_b16_ep100.yaml; else f=CoOp/vit_b16.yaml; fi ;;
    CoCoOp:*)        f=CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml ;;
    MaPLe:xd)        f=MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml ;;
    MaPLe:*)         f=MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml ;;
    IVLP:*)          f=IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml ;;
    VPT:base2new|VPT:xd) f=VPT/vit_b16_c2_ep5_batch4_4.yaml ;;
    VPT:*)           f=VPT/vit_b16_deep_16ctx.yaml ;;
    *)  # any other method: its vit_b16 yaml, else the only yaml in its folder
      if [ -f "$CONFIGS/$t/vit_b16.yaml" ]; then f="$t/vit_b16.yaml"
      else
        local c=("$CONFIGS/$t"/*.yaml)
        [ "${#c[@]}" -eq 1 ] && [ -f "${c[0]}" ] && f="${c[0]#$CONFIGS/}"
      fi ;;
  esac
  if [ -z "$f" ]; then
    echo "no paper configuration for $t in $CONFIGS/$t: pass one as the second argument (a yaml path)" >&2
    return 2
  fi
  echo "$CONFIGS/$f"
}

# run PROTOCOL OUTDIR CONFIG ARGS...  (one engine run; skipped when finished)
run() {
  local proto="$1" d="$2" cfg="$3"; shift 3
  if [ -f "$d/results.json" ]; then echo "skip $d (finished)"; return 0; fi
  local cmd=("$PY" -m mvlpt --root "$DATA" --output-dir "$d" --config-file "$cfg" ${BACKBONE:+--backbone "$BACKBONE"}
             "$@" MODEL.BACKBONE.PRETRAINED "$WEIGHTS" ${EPOCHS:+OPTIM.MAX_EPOCH "$EPOCHS"} ${EXTRA_OPTS:-})
  if [ "$DRY_RUN" = 1 ]; then say env MVLPT_PROTOCOL="$proto" "${cmd[@]}"; return 0; fi
  MVLPT_PROTOCOL="$proto" "${cmd[@]}"
}

# tables ROOT: mean ± std over seeds per task, written next to the runs
tables() {
  local cmd=("$PY" -m mvlpt.results "$1" --md "$1/results.md" --csv "$1/results.csv")
  if [ "$DRY_RUN" = 1 ]; then say "${cmd[@]}"; else "${cmd[@]}"; fi
}

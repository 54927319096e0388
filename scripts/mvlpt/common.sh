# Shared by the scripts/mvlpt/*.sh scripts. DATA and OUTPUT come from the environment (or arguments),
# never hard-coded. Every stage skips finished runs, so rerunning a script resumes it.
: "${DATA:?set DATA=/path/to/datasets (see datasets/README.md)}"
OUTPUT="${OUTPUT:-output}"
BACKBONE="${BACKBONE:-ViT-B/16}"
WEIGHTS="${WEIGHTS:-openai}"           # open_clip tag or a CLIP weights file
SEEDS="${SEEDS:-1 2 3}"
PY="${PYTHON:-python}"
PAPER_OPTS=(OPTIM.NAME sgd OPTIM.LR 0.002 OPTIM.LR_SCHEDULER cosine OPTIM.WARMUP_EPOCH 1
            OPTIM.WARMUP_TYPE constant OPTIM.WARMUP_CONS_LR 1e-5 TEST.FINAL_MODEL best_val
            OPTIM.MAX_EPOCH "${EPOCHS:-200}" ${EXTRA_OPTS:-})
TASKS_YAML="$(dirname "${BASH_SOURCE[0]}")/../../configs/mvlpt/tasks.yaml"
task_list() { "$PY" -c "import yaml,sys; print(','.join(yaml.safe_load(open('$TASKS_YAML'))['$1']))"; }
mt() { "$PY" -m mvlpt.multitask "$@"; }

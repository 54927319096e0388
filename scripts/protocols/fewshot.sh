#!/usr/bin/env bash
# CoOp few-shot protocol: K in {1,2,4,8,16}, 11 datasets, 3 seeds.  bash scripts/protocols/fewshot.sh CoOp [CONFIG]
set -euo pipefail; source "$(dirname "$0")/common.sh"
TRAINER="${1:-CoOp}"; CFG="${2:-}"
for K in ${SHOTS:-1 2 4 8 16}; do for D in ${DATASETS:-$COOP11}; do for S in $SEEDS; do
  run "$OUTPUT/protocols/fewshot/$TRAINER/shots$K/$D/seed$S" --trainer "$TRAINER" --seed "$S" \
      ${CFG:+--config-file "$CFG"} DATASET.NAME "$D" DATASET.NUM_SHOTS "$K"
done; done; done
"$PY" -m mvlpt.results "$OUTPUT/protocols/fewshot/$TRAINER" --md "$OUTPUT/protocols/fewshot/$TRAINER/results.md"

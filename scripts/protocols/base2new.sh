#!/usr/bin/env bash
# CoCoOp / MaPLe base-to-new: train on base classes (16 shots), evaluate on base and new.
#   bash scripts/protocols/base2new.sh CoCoOp|MaPLe|CoOp [CONFIG]
set -euo pipefail; source "$(dirname "$0")/common.sh"
TRAINER="${1:-CoCoOp}"; CFG="${2:-}"; O="$OUTPUT/protocols/base2new/$TRAINER"
for D in ${DATASETS:-$COOP11}; do for S in $SEEDS; do
  run "$O/train_base/$D/seed$S" --trainer "$TRAINER" --seed "$S" ${CFG:+--config-file "$CFG"} \
      DATASET.NAME "$D" DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES base
  run "$O/test_new/$D/seed$S" --trainer "$TRAINER" --seed "$S" ${CFG:+--config-file "$CFG"} --eval-only \
      --model-dir "$O/train_base/$D/seed$S" DATASET.NAME "$D" DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES new
done; done
"$PY" -m mvlpt.results "$O" --md "$O/results.md" --csv "$O/results.csv"

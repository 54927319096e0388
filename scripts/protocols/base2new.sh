#!/usr/bin/env bash
# Base-to-new generalisation (CoCoOp paper Table 1, MaPLe paper Table 1): train on the base half of the
# classes (16 shots), test on base (end of training) and on new (eval-only). Table: base, new, H.
#   DATA=... bash scripts/protocols/base2new.sh CoCoOp|MaPLe|IVLP|VPT|CoOp [CONFIG]
set -euo pipefail; source "$(dirname "$0")/common.sh"
TRAINER="${1:-CoCoOp}"; CFG="${2:-}"; O="$OUTPUT/protocols/base2new/$TRAINER"
C="${CFG:-$(method_yaml base2new "$TRAINER")}"
for D in ${DATASETS:-$COOP11}; do for S in $SEEDS; do
  run base2new "$O/train_base/$D/seed$S" "$C" --trainer "$TRAINER" --seed "$S" \
      DATASET.NAME "$D" DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES base
  run base2new "$O/test_new/$D/seed$S" "$C" --trainer "$TRAINER" --seed "$S" --eval-only \
      --model-dir "$O/train_base/$D/seed$S" DATASET.NAME "$D" DATASET.NUM_SHOTS 16 DATASET.SUBSAMPLE_CLASSES new
done; done
tables "$O"

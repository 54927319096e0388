#!/usr/bin/env bash
# CoOp few-shot protocol (CoOp paper, Fig. 3 / IJCV Table): K in {1,2,4,8,16}, 11 datasets, 3 seeds.
#   DATA=... bash scripts/protocols/fewshot.sh TRAINER [CONFIG]
# Without CONFIG the method's paper yaml is used (CoOp: vit_b16_ep50 for 1-2 shots and ImageNet,
# vit_b16_ep100 for 4-8, vit_b16 (200 epochs) for 16). SHOTS and DATASETS narrow the grid.
set -euo pipefail; source "$(dirname "$0")/common.sh"
TRAINER="${1:-CoOp}"; CFG="${2:-}"; O="$OUTPUT/protocols/fewshot/$TRAINER"
for K in ${SHOTS:-1 2 4 8 16}; do for D in ${DATASETS:-$COOP11}; do
  C="${CFG:-$(method_yaml fewshot "$TRAINER" "$K" "$D")}"
  for S in $SEEDS; do
    run fewshot "$O/shots$K/$D/seed$S" "$C" --trainer "$TRAINER" --seed "$S" DATASET.NAME "$D" DATASET.NUM_SHOTS "$K"
  done
done; done
tables "$O"

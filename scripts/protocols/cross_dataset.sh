#!/usr/bin/env bash
# Cross-dataset transfer and domain generalisation (CoCoOp/MaPLe): train on ImageNet (16 shots), evaluate
# the same prompt on the other 10 datasets (cross-dataset) and on ImageNetV2/-Sketch/-A/-R (DG).
#   bash scripts/protocols/cross_dataset.sh CoCoOp|MaPLe|CoOp [CONFIG]
set -euo pipefail; source "$(dirname "$0")/common.sh"
TRAINER="${1:-CoCoOp}"; CFG="${2:-}"; O="$OUTPUT/protocols/xd/$TRAINER"
TARGETS="${TARGETS:-Caltech101 OxfordPets StanfordCars OxfordFlowers Food101 FGVCAircraft SUN397 DescribableTextures EuroSAT UCF101 ImageNetV2 ImageNetSketch ImageNetA ImageNetR}"
for S in $SEEDS; do
  run "$O/train/ImageNet/seed$S" --trainer "$TRAINER" --seed "$S" ${CFG:+--config-file "$CFG"} \
      DATASET.NAME ImageNet DATASET.NUM_SHOTS 16
  for D in $TARGETS; do
    run "$O/eval/$D/seed$S" --trainer "$TRAINER" --seed "$S" ${CFG:+--config-file "$CFG"} --eval-only \
        --model-dir "$O/train/ImageNet/seed$S" DATASET.NAME "$D"
  done
done
"$PY" -m mvlpt.results "$O/eval" --md "$O/results.md" --csv "$O/results.csv"

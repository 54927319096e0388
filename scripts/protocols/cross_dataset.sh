#!/usr/bin/env bash
# Cross-dataset transfer and domain generalisation (CoCoOp paper Tables 2-3, MaPLe paper Tables 2-3):
# train on ImageNet (16 shots, all classes), evaluate the same prompt on the other 10 datasets
# (cross-dataset) and on ImageNetV2/-Sketch/-A/-R (DG). One table each, ImageNet as the source row.
#   DATA=... bash scripts/protocols/cross_dataset.sh CoCoOp|MaPLe|CoOp [CONFIG]
set -euo pipefail; source "$(dirname "$0")/common.sh"
TRAINER="${1:-CoCoOp}"; CFG="${2:-}"; O="$OUTPUT/protocols/xd/$TRAINER"
C="${CFG:-$(method_yaml xd "$TRAINER")}"
TARGETS="${TARGETS:-Caltech101 OxfordPets StanfordCars OxfordFlowers Food101 FGVCAircraft SUN397 DescribableTextures EuroSAT UCF101 ImageNetV2 ImageNetSketch ImageNetA ImageNetR}"
for S in $SEEDS; do
  run xd_source "$O/train/ImageNet/seed$S" "$C" --trainer "$TRAINER" --seed "$S" \
      DATASET.NAME ImageNet DATASET.NUM_SHOTS 16
  for D in $TARGETS; do
    case "$D" in ImageNetV2|ImageNetSketch|ImageNetA|ImageNetR) P=dg ;; *) P=cross_dataset ;; esac
    run "$P" "$O/eval/$D/seed$S" "$C" --trainer "$TRAINER" --seed "$S" --eval-only \
        --model-dir "$O/train/ImageNet/seed$S" DATASET.NAME "$D"
  done
done
tables "$O"

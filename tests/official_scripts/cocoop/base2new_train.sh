#!/bin/bash
# Rendition of KaiyangZhou/CoOp scripts/cocoop/base2new_train.sh (CoCoOp, train on the base classes).
# Only the DATA line differs from the original: it takes $DATA from the environment (the tests point
# it at a tiny CoOp-format tree). Run from scripts/cocoop/, as the original (it cds to the root):
#   bash base2new_train.sh DATASET SEED

cd ../..

# custom config
DATA=${DATA:-/path/to/datasets}
TRAINER=CoCoOp

DATASET=$1
SEED=$2

CFG=vit_b16_c4_ep10_batch1_ctxv1
SHOTS=16


DIR=output/base2new/train_base/${DATASET}/shots_${SHOTS}/${TRAINER}/${CFG}/seed${SEED}
if [ -d "$DIR" ]; then
    echo "Results are available in ${DIR}. Skip this job"
else
    echo "Run this job and save the output to ${DIR}"

    python train.py \
    --root ${DATA} \
    --seed ${SEED} \
    --trainer ${TRAINER} \
    --dataset-config-file configs/datasets/${DATASET}.yaml \
    --config-file configs/trainers/${TRAINER}/${CFG}.yaml \
    --output-dir ${DIR} \
    DATASET.NUM_SHOTS ${SHOTS} \
    DATASET.SUBSAMPLE_CLASSES base
fi

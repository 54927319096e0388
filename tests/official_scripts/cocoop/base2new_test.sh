#!/bin/bash
# Rendition of KaiyangZhou/CoOp scripts/cocoop/base2new_test.sh (CoCoOp, evaluate the base-trained
# model of epoch LOADEP on the new classes). Only the DATA line differs from the original: it takes
# $DATA from the environment (the tests point it at a tiny CoOp-format tree). Run from
# scripts/cocoop/, as the original (it cds to the root):
#   bash base2new_test.sh DATASET SEED

cd ../..

# custom config
DATA=${DATA:-/path/to/datasets}
TRAINER=CoCoOp

DATASET=$1
SEED=$2

CFG=vit_b16_c4_ep10_batch1_ctxv1
SHOTS=16
LOADEP=10
SUB=new


COMMON_DIR=${DATASET}/shots_${SHOTS}/${TRAINER}/${CFG}/seed${SEED}
MODEL_DIR=output/base2new/train_base/${COMMON_DIR}
DIR=output/base2new/test_${SUB}/${COMMON_DIR}
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
    --model-dir ${MODEL_DIR} \
    --load-epoch ${LOADEP} \
    --eval-only \
    DATASET.NUM_SHOTS ${SHOTS} \
    DATASET.SUBSAMPLE_CLASSES ${SUB}
fi

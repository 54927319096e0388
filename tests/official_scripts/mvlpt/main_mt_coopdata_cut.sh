#!/bin/bash
# Rendition of sIncerass/MVLPT scripts/mvlpt/main_mt_coopdata_cut.sh (multitask source prompt on the
# 11 CoOp datasets: UPT, VPT or CoOp). Only the data line (`root=`) differs from the original: it takes
# $DATA from the environment (the tests point it at a tiny CoOp-format tree). Outputs go to
# ~/opensource/ckpt/ as in the original. Run from the repository root, as the original:
#   bash scripts/mvlpt/main_mt_coopdata_cut.sh TRAINER CFG NCTX SHOTS SEED   e.g. UPT vit_b16 4 16 1

# custom config
# DATA=/path/to/datasets
TRAINER=$1

output_dir=~/opensource/ckpt/
root=${DATA:-//tmp/coop_data}

CFG=$2  # config file
NCTX=$3  # number of context tokens
SHOTS=$4  # number of shots (5, 20, 50)

DATASET="ImageNet,Caltech101,Food101,StanfordCars,OxfordPets,OxfordFlowers,FGVCAircraft,SUN397,DescribableTextures,EuroSAT,UCF101"
for SEED in $5
do
    DIR=$output_dir/${DATASET}/${TRAINER}/${CFG}_${SHOTS}shots/nctx${NCTX}_csc${CSC}_ctp${CTP}/seed${SEED}
    if [ $TRAINER = "UPT" ]; then
        python3 train.py \
        --root $root \
        --seed ${SEED} \
        --trainer MVLPT \
        --config-file configs/trainers/MVLPT/${CFG}.yaml \
        --output-dir ${DIR} \
        --dataset ${DATASET} \
        --shots ${SHOTS} \
        --dataset-coop \
        --multi-task \
        TRAINER.MVLPT.VPT.N_CTX ${NCTX} \
        TRAINER.MVLPT.COOP.N_CTX ${NCTX} \
        TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION 'middle' \
        TRAINER.MVLPT.COOP.CSC False \
        TEST.NO_TEST False \
        TEST.FINAL_MODEL "best_val" \
        TRAINER.CUT_CONTEXTLEN True
    elif  [ $TRAINER = "VPT" ]; then
        python3 train.py \
         --root $root \
         --seed ${SEED} \
         --trainer MVLPT \
         --config-file configs/trainers/MVLPT/${CFG}.yaml \
         --output-dir ${DIR} \
         --dataset ${DATASET} \
         --shots ${SHOTS} \
         --dataset-coop \
         --multi-task \
         TRAINER.MVLPT.VPT.N_CTX ${NCTX} \
         TRAINER.MVLPT.COOP.N_CTX 0 \
         TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION 'middle' \
         TRAINER.MVLPT.COOP.CSC False \
         TEST.NO_TEST False \
         TEST.FINAL_MODEL "best_val"
    else
        python3 train.py \
        --root $root \
        --seed ${SEED} \
        --trainer MVLPT \
        --config-file configs/trainers/MVLPT/${CFG}.yaml \
        --output-dir ${DIR} \
        --dataset ${DATASET} \
        --shots ${SHOTS} \
        --dataset-coop \
        --multi-task \
        TRAINER.MVLPT.VPT.N_CTX 0 \
        TRAINER.MVLPT.COOP.N_CTX ${NCTX} \
        TRAINER.MVLPT.COOP.CLASS_TOKEN_POSITION 'middle' \
        TRAINER.MVLPT.COOP.CSC False \
        TEST.NO_TEST False \
        TEST.FINAL_MODEL "best_val" \
        TRAINER.CUT_CONTEXTLEN True
    fi
done

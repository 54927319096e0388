#!/usr/bin/env bash
# ELEVATER 20-task few-shot table (paper: CoOp/VPT/UPT vs MCoOp/MVPT/MUPT, K in {1,5,20}, 3 seeds):
# baseline (no init), single-task from the CoOp-11 source prompt, grouped (configs/mvlpt/groups/elevater_paper.yaml),
# zero-shot CLIP and linear probe. Needs the source stage first (scripts/mvlpt/source_coop11.sh METHOD).
#   DATA=... OUTPUT=... bash scripts/mvlpt/elevater_fewshot.sh CoOp|VPT|UPT K
set -euo pipefail; source "$(dirname "$0")/common.sh"
METHOD="${1:-CoOp}"; K="${2:-5}"
SRC="$OUTPUT/mvlpt/source/$METHOD/avg"
need_source "$SRC" "$METHOD"
O="$OUTPUT/mvlpt/elevater/shots$K"
T="$(task_list elevater20)"
C=(--out "$O" --method "$METHOD" --shots "$K" --seeds $SEEDS --root "$DATA" --backbone "$BACKBONE" --weights "$WEIGHTS")
mt target "${C[@]}" --tasks "$T" "${PAPER_OPTS[@]}"                       # CoOp / VPT / UPT
mt target "${C[@]}" --tasks "$T" --source "$SRC" "${PAPER_OPTS[@]}"       # MCoOp / MVPT / MUPT
mt group  "${C[@]}" --groups "$REPO/configs/mvlpt/groups/elevater_paper.yaml" --source "$SRC" "${PAPER_OPTS[@]}"
mt zeroshot "${C[@]}" --tasks "$T" ${EVAL_OPTS[@]+"${EVAL_OPTS[@]}"}
mt linprobe "${C[@]}" --tasks "$T" ${EVAL_OPTS[@]+"${EVAL_OPTS[@]}"}
tables "$O/target" --md "$O/results.md" --csv "$O/results.csv" --tasks "$T"

#!/usr/bin/env bash
# Cross-task generalisation: CoOp-11 source prompt -> the 12 ELEVATER tasks without a CoOp counterpart.
#   DATA=... OUTPUT=... bash scripts/mvlpt/cross_task.sh CoOp|VPT|UPT K
set -euo pipefail; source "$(dirname "$0")/common.sh"
METHOD="${1:-CoOp}"; K="${2:-5}"
SRC="$OUTPUT/mvlpt/source/$METHOD/avg"
need_source "$SRC" "$METHOD"
O="$OUTPUT/mvlpt/cross_task/shots$K"; T="$(task_list elevater12_nonoverlap)"
C=(--out "$O" --method "$METHOD" --shots "$K" --seeds $SEEDS --root "$DATA" --backbone "$BACKBONE" --weights "$WEIGHTS")
mt target "${C[@]}" --tasks "$T" "${PAPER_OPTS[@]}"
mt target "${C[@]}" --tasks "$T" --source "$SRC" "${PAPER_OPTS[@]}"
tables "$O/target" --md "$O/results.md" --csv "$O/results.csv" --tasks "$T"

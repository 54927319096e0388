#!/usr/bin/env bash
# Cross-task generalisation: CoOp-11 source prompt -> the 12 ELEVATER tasks without a CoOp counterpart.
#   DATA=... OUTPUT=... bash scripts/mvlpt/cross_task.sh CoOp|VPT|UPT K
set -euo pipefail; source "$(dirname "$0")/common.sh"
METHOD="${1:-CoOp}"; K="${2:-5}"
SRC="$OUTPUT/mvlpt/source/$METHOD/avg"
[ -f "$SRC/source.json" ] || { echo "run scripts/mvlpt/source_coop11.sh $METHOD first" >&2; exit 2; }
O="$OUTPUT/mvlpt/cross_task/shots$K"; T="$(task_list elevater12_nonoverlap)"
C=(--out "$O" --method "$METHOD" --shots "$K" --seeds $SEEDS --root "$DATA" --backbone "$BACKBONE" --weights "$WEIGHTS")
mt target "${C[@]}" --tasks "$T" "${PAPER_OPTS[@]}"
mt target "${C[@]}" --tasks "$T" --source "$SRC" "${PAPER_OPTS[@]}"
"$PY" -m mvlpt.results "$O/target" --md "$O/results.md" --csv "$O/results.csv" --tasks "$T"

#!/usr/bin/env bash
# Task transferability heatmap (paper: 20 ELEVATER tasks x 20, per method): train on A, adapt on B.
# Resumable: finished pairs are never rerun. Output: $OUTPUT/mvlpt/transfer/<METHOD>/transferability.{csv,png}
#   DATA=... OUTPUT=... bash scripts/mvlpt/transferability.sh CoOp|VPT|UPT [K=5] [adapt|eval]
set -euo pipefail; source "$(dirname "$0")/common.sh"
METHOD="${1:-CoOp}"; K="${2:-5}"; MODE="${3:-adapt}"
mt transfer --out "$OUTPUT/mvlpt" --tasks "${TASKS:-$(task_list elevater20)}" --method "$METHOD" --shots "$K" \
   --seeds ${SEEDS%% *} --root "$DATA" --backbone "$BACKBONE" --weights "$WEIGHTS" --transfer-mode "$MODE" "${PAPER_OPTS[@]}"

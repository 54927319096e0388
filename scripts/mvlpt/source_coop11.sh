#!/usr/bin/env bash
# Source stage: one prompt learned on the 11 CoOp datasets (3 seeds, averaged) -> $OUTPUT/mvlpt/source/<METHOD>/avg
#   DATA=... OUTPUT=... bash scripts/mvlpt/source_coop11.sh CoOp|VPT|UPT [SHOTS=16]
set -euo pipefail; source "$(dirname "$0")/common.sh"
METHOD="${1:-CoOp}"; SHOTS="${2:-16}"
mt source --out "$OUTPUT/mvlpt" --tasks "$(task_list coop11)" --method "$METHOD" --shots "$SHOTS" \
   --seeds $SEEDS --root "$DATA" --backbone "$BACKBONE" --weights "$WEIGHTS" "${PAPER_OPTS[@]}"

#!/usr/bin/env bash
# The whole MVLPT recipe on the embedded demo suite (no download), a few minutes on a 2-core CPU.
#   bash scripts/demo.sh [OUTPUT_DIR]        (default: output/demo)
# Real CLIP weights: MVLPT_CLIP_WEIGHTS=/path/to/ViT-B-32.pt (or an open_clip tag) bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-${OUTPUT:-output/demo}}"
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
start=$(date +%s)
"$PY" -m mvlpt.multitask.demo "$OUT"
echo "[demo] total wall time: $(( $(date +%s) - start )) s"

#!/usr/bin/env bash
# The whole MVLPT recipe on the embedded demo suite (no download), a few minutes on a 2-core CPU.
#   bash scripts/demo.sh [OUTPUT_DIR] [--methods CoOp,VPT,UPT] [--config FILE]   (default: output/demo)
# Real CLIP weights: MVLPT_CLIP_WEIGHTS=/path/to/ViT-B-32.pt (or an open_clip tag) bash scripts/demo.sh
set -euo pipefail
OUT="${1:-${OUTPUT:-output/demo}}"
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac   # relative to where the user ran it
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
start=$(date +%s)
"$PY" -m mvlpt.multitask.demo "$OUT" "${@:2}"
echo "[demo] total wall time: $(( $(date +%s) - start )) s"

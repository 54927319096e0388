# Shared by scripts/protocols/*.sh. DATA / OUTPUT from the environment; finished runs (results.json) are skipped.
: "${DATA:?set DATA=/path/to/datasets}"
OUTPUT="${OUTPUT:-output}"; BACKBONE="${BACKBONE:-ViT-B/16}"; WEIGHTS="${WEIGHTS:-openai}"
SEEDS="${SEEDS:-1 2 3}"; PY="${PYTHON:-python}"
COOP11="ImageNet Caltech101 OxfordPets StanfordCars OxfordFlowers Food101 FGVCAircraft SUN397 DescribableTextures EuroSAT UCF101"
run() {  # run OUTDIR ARGS... (skips finished runs)
  local d="$1"; shift
  if [ -f "$d/results.json" ]; then echo "skip $d (finished)"; return 0; fi
  "$PY" -m mvlpt --root "$DATA" --output-dir "$d" --backbone "$BACKBONE" "$@" MODEL.BACKBONE.PRETRAINED "$WEIGHTS"
}

#!/usr/bin/env bash
# A trained run -> a candidate model: calibrated framing and TTA (on FER+ valid), every precision verified,
# int8 evaluated with and without mirror TTA on FER+ valid and FER2013 val, and end to end on the photos.
# Usage: benchmarks/candidate_report.sh RUN_DIR OUT_DIR   (from the repository root, after `make demo`'s install)
set -euo pipefail
run=$1 out=$2
ferplus=${FERPLUS:-../shared/data/ferplus} fer2013=${FER2013:-../shared/data/fer2013}
fe=.venv/bin/fer-edge py=.venv/bin/python
mkdir -p "$out"
"$py" -c 'import keras, sys; keras.models.load_model(sys.argv[1], compile=False).save(sys.argv[2])' \
    "$run/model.keras" "$out/model.keras"
cp "$run/model.meta.json" "$out/model.meta.json"
"$fe" calibrate "$out/model.keras" "$ferplus/valid" --detector yunet --detector mtcnn --limit 1000 --write \
    --json "$out/calibration.json"
"$fe" convert "$out/model.keras" --quant all --calibration "$ferplus" --samples 500 --per-tensor --out "$out/" \
    --verify-data "$ferplus/valid"
for tta in none mirror; do
    "$fe" evaluate "$out/model_int8.tflite" "$ferplus" --split valid --tta "$tta" --out "$out/ferplus-valid-$tta"
    "$fe" evaluate "$out/model_int8.tflite" "$fer2013" --split val --tta "$tta" --out "$out/fer2013-val-$tta"
done
"$py" benchmarks/photos_e2e.py --model "$out/model_int8.tflite" --json "$out/photos.json"

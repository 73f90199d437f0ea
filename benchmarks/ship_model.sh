#!/usr/bin/env bash
# A fused .keras model -> a shipped model: crop framing and TTA calibrated on FER+ valid, converted into
# fer_edge/models/ (every precision, or int8 only) and verified, then reported on FER+ valid (majority labels),
# FER2013 val (original labels) and end to end on the photos, into docs/NAME-model/.
# Usage: [TTA=none|mirror|mirror-unsure [TTA_THRESHOLD=T]] [SAMPLES=N] benchmarks/ship_model.sh NAME all|int8 MODEL.keras
# (from the repository root, after `make demo`'s install; TTA pins the recorded test-time augmentation, by default
# the one that pays on FER+ valid, and TTA_THRESHOLD mirror-unsure's threshold; SAMPLES is how many FER+ train faces
# calibrate int8, 500 unless set)
set -euo pipefail
name=$1 quant=$2 keras=$3
ferplus=${FERPLUS:-../shared/data/ferplus} fer2013=${FER2013:-../shared/data/fer2013} samples=${SAMPLES:-500}
fe=.venv/bin/fer-edge py=.venv/bin/python docs=docs/$name-model
mkdir -p "$docs"
"$fe" calibrate "$keras" "$ferplus/valid" --detector yunet --detector mtcnn --limit 1000 --write --tta "${TTA:-auto}" \
    ${TTA_THRESHOLD:+--tta-threshold "$TTA_THRESHOLD"} --json "$docs/calibration.json"
if [ "$quant" = all ]; then
    "$fe" convert "$keras" --quant all --calibration "$ferplus" --samples "$samples" --per-tensor --out fer_edge/models/ \
        --verify-data "$ferplus/valid"
else
    "$fe" convert "$keras" --quant int8 --calibration "$ferplus" --samples "$samples" --per-tensor \
        --out "fer_edge/models/${name}_int8.tflite" --verify-data "$ferplus/valid"
fi
modes="none mirror"
if [ "${TTA:-}" = mirror-unsure ]; then modes="$modes mirror-unsure"; fi
for tta in $modes; do
    "$fe" evaluate "$name" "$ferplus" --split valid --tta "$tta" --out "$docs/ferplus-valid-$tta"
    "$fe" evaluate "$name" "$fer2013" --split val --tta "$tta" --out "$docs/fer2013-val-$tta"
done
rm -f "$docs"/*/predictions.csv
"$py" benchmarks/photos_e2e.py --model "$name" --json "$docs/photos.json"

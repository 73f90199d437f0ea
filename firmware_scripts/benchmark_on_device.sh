#!/usr/bin/env bash
# Run `fer-edge bench` on this board and save JSON and plot named after the board model,
# so Pi 4 and Pi 5 figures can be compared. Usage: benchmark_on_device.sh [OUT_DIR] [extra bench options]
set -euo pipefail

out_dir=${1:-.}
shift || true
fer_edge=${FER_EDGE:-/opt/fer-edge/venv/bin/fer-edge}
command -v "$fer_edge" >/dev/null 2>&1 || fer_edge=fer-edge
command -v "$fer_edge" >/dev/null 2>&1 || { echo "benchmark: fer-edge is not installed" >&2; exit 1; }

board="unknown-board"
if [ -r /proc/device-tree/model ]; then
    board=$(tr -d '\0' < /proc/device-tree/model)
elif [ -r /sys/class/dmi/id/product_name ]; then
    board=$(cat /sys/class/dmi/id/product_name)
fi
slug=$(printf '%s' "$board" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-//; s/-$//')
mkdir -p "$out_dir"
echo "benchmark: $board ($(nproc) cores)"
plot=()
if "$(dirname "$(command -v "$fer_edge")")/python" -c "import matplotlib" 2>/dev/null; then
    plot=(--plot "$out_dir/bench-$slug.png")
fi
# The device install has no TensorFlow: the full path is measured on the workstation.
"$fer_edge" bench --no-full --detect-width 0,320 --threads "1,$(nproc)" \
    --json "$out_dir/bench-$slug.json" "${plot[@]}" "$@"

#!/usr/bin/env bash
# The main job for now: builds mfx and runs the demo program
# (later: examples/train_coco).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/examples/demo

#!/usr/bin/env bash
# The main job: installs what it needs, builds mfx, generates the synthetic
# COCO-format set, trains the small CPU preset with the Hungarian criterion,
# evaluates it every epoch and prints the COCO table. Extra arguments go to
# examples/train_coco (e.g. --criterion matchfree --epochs 20 --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
# Only the programs the job runs (the test suite is not built here).
bash scripts/build.sh train_coco eval_coco detect plot_metrics
./build/examples/train_coco --out train_out "$@"

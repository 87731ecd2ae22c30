#!/usr/bin/env bash
# Builds and runs examples/demo, a tiny end-to-end use of the core.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh demo
./build/examples/demo

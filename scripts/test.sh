#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs packages,
# builds, runs ctest. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
# The COCO evaluation is compared live against pycocotools: it must run.
MFX_PYTHON="$(bash scripts/python_deps.sh)"
export MFX_PYTHON MFX_REQUIRE_PYCOCOTOOLS=1
ctest --test-dir build --output-on-failure -j"$(nproc)"

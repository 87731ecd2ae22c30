#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs packages,
# builds, runs ctest. CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
ctest --test-dir build --output-on-failure -j"$(nproc)"

#!/usr/bin/env bash
# Configures and builds mfx into ./build (Release, Ninja, ccache, lld).
#   scripts/build.sh                 everything (libraries, tests, benchmarks, examples)
#   scripts/build.sh TARGET...       only those targets and what they need
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
# Lets ccache hit across checkouts in different folders (CI clones afresh).
export CCACHE_BASEDIR="$PWD"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
if [ $# -gt 0 ]; then
  cmake --build build -j"$(nproc)" --target "$@"
else
  cmake --build build -j"$(nproc)"
fi

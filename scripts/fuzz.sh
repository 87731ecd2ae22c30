#!/usr/bin/env bash
# A fuzzing campaign: scripts/fuzz.sh --seconds N [mfx_fuzz options]
# Builds mfx_fuzz in build/ (Release) and runs random seeds for N seconds,
# each case in a forked child; prints outcome x count x example seed and the
# program of every failing seed (rerun one with: build/tests/fuzz/mfx_fuzz --case SEED).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 2 || $1 != --seconds ]]; then
  echo "usage: scripts/fuzz.sh --seconds N [--start SEED] [--no-jit] [--no-grad] [--verbose]" >&2
  exit 2
fi
BUILD=${MFX_BUILD_DIR:-build}
if [[ ! -f $BUILD/build.ninja && ! -f $BUILD/Makefile ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD" --target mfx_fuzz -j"${JOBS:-2}"
exec "$BUILD/tests/fuzz/mfx_fuzz" "$@"

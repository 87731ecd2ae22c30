#!/usr/bin/env bash
# Runs one libFuzzer target: scripts/libfuzz.sh TARGET --seconds N [libFuzzer flags]
#   TARGET: safetensors | checkpoint | coco_instances | coco_results | jpeg | png
# Builds build-libfuzz (Release, -DMFX_LIBFUZZER=ON: the readers and targets
# built by clang++ with ASan + UBSan + coverage, the rest as usual; no tests,
# benchmarks or examples), writes the seed
# corpora with mfx_libfuzz_corpus on first use, and fuzzes TARGET for N
# seconds. The corpus grows in build-libfuzz/corpus/TARGET; inputs that
# crash land in build-libfuzz/artifacts/TARGET/ (replay one with
# build-libfuzz/tests/fuzz/libfuzzer/mfx_libfuzz_TARGET FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
targets="safetensors checkpoint coco_instances coco_results jpeg png"
if [[ $# -lt 3 || $2 != --seconds || " $targets " != *" $1 "* ]]; then
  echo "usage: scripts/libfuzz.sh TARGET --seconds N [libFuzzer flags]  (TARGET: $targets)" >&2
  exit 2
fi
target=$1 seconds=$3
shift 3
BUILD=${MFX_LIBFUZZ_BUILD_DIR:-build-libfuzz}
export CCACHE_BASEDIR=$PWD
if [[ ! -f $BUILD/build.ninja ]]; then
  # The normal Release configuration (its objects come from the compiler
  # cache after a normal build); MFX_LIBFUZZER adds the clang-built targets.
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMFX_LIBFUZZER=ON \
    -DMFX_BUILD_TESTS=OFF -DMFX_BUILD_BENCHMARKS=OFF -DMFX_BUILD_EXAMPLES=OFF
fi
cmake --build "$BUILD" --target "mfx_libfuzz_$target" mfx_libfuzz_corpus -j"${JOBS:-2}"
corpus=$BUILD/corpus/$target
if [[ ! -d $corpus ]]; then
  # Seeds are written once per target (into a folder of this run's own, as
  # several targets may start side by side); the fuzzer adds to it afterwards.
  seeds=$(mktemp -d "$BUILD/corpus.seed.XXXXXX")
  "$BUILD/tests/fuzz/libfuzzer/mfx_libfuzz_corpus" "$seeds"
  mkdir -p "$BUILD/corpus"
  cp -r "$seeds/$target" "$corpus.tmp.$$" && mv "$corpus.tmp.$$" "$corpus"
  rm -rf "$seeds"
fi
mkdir -p "$BUILD/artifacts/$target"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$BUILD/tests/fuzz/libfuzzer/mfx_libfuzz_$target" -max_total_time="$seconds" \
  -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 \
  -artifact_prefix="$BUILD/artifacts/$target/" "$@" "$corpus"

#!/usr/bin/env bash
# Builds the GPU bundle: every program the GPU checks run (the gpu-labelled
# tests, bench_gpu, bench_criteria, bench_matching, train_coco, eval_coco)
# with every shared library they load beyond the base list, packed into
# OUT/mfx-gpu.tar.xz (at most 60 MiB). A machine with only the NVIDIA driver
# and CUDA libraries runs it with scripts/gpu_check.sh.
#
#   scripts/gpu_bundle.sh [--out DIR] [--build DIR]     (defaults .gpu, build-gpu)
#
# The build (-DMFX_BUNDLE=ON) makes mfx, mfx_compiler and mfx_models shared
# libraries that carry MLIR/LLVM, OpenBLAS and zstd statically, so no copy of
# Debian's 195 MB LLVM/MLIR libraries travels. Its objects compile as in the
# normal build, so they come from the compiler cache after one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=.gpu
build=build-gpu
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_bundle.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
limit_mib=60

bash scripts/install_deps.sh
export CCACHE_BASEDIR="$root"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMFX_BUNDLE=ON >/dev/null

# The gpu-labelled tests (name, program, environment), listed by tests/CMakeLists.txt.
manifest="$build/gpu_tests.tsv"
[ -s "$manifest" ] || { echo "gpu_bundle.sh: $manifest lists no GPU test" >&2; exit 1; }
programs=$(cut -f2 "$manifest" | sort -u)
tools="bench_gpu bench_criteria bench_matching train_coco eval_coco"
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target $programs $tools

stage="$build/bundle"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/lib" "$stage/data"
for p in $programs $tools; do
  f=$(find "$build" -path "$stage" -prune -o -type f -name "$p" -perm -u+x -print | head -n 1)
  [ -n "$f" ] || { echo "gpu_bundle.sh: built program $p not found" >&2; exit 1; }
  strip --strip-unneeded -o "$stage/bin/$p" "$f"
done
for l in "$build"/lib/libmfx.so "$build"/compiler/libmfx_compiler.so "$build"/models/libmfx_models.so; do
  strip --strip-unneeded -o "$stage/lib/$(basename "$l")" "$l"
done
cp "$manifest" "$stage/tests.tsv"
cp -r tests/data/. "$stage/data/"

# Every library the programs load beyond the base list (ldd is transitive),
# found through the bundle first. LLVM, MLIR or OpenBLAS here means the
# static linking above failed: refuse rather than ship a broken bundle.
base='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libz\.so\.1)$'
for f in "$stage"/bin/* "$stage"/lib/*; do
  LD_LIBRARY_PATH="$stage/lib" ldd "$f" | awk '/=>/ {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ "$name" =~ $base ]] && continue
  [ -e "$stage/lib/$name" ] && continue
  case "$name" in
    libLLVM*|libMLIR*|libopenblas*|libmpi*)
      echo "gpu_bundle.sh: a program still loads $name ($path)" >&2; exit 1 ;;
  esac
  [ -f "$path" ] || { echo "gpu_bundle.sh: $name not found" >&2; exit 1; }
  cp -L "$path" "$stage/lib/$name"
done

# The commit it was built from; "+changes" when the working tree differed.
{ git rev-parse --short HEAD 2>/dev/null || echo unknown; } | tr -d '\n' > "$stage/commit"
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || printf '+changes' >> "$stage/commit"
mkdir -p "$out"
tarball="$out/mfx-gpu.tar.xz"
tmp="$tarball.tmp"
tar -C "$stage" -cf - . | xz -T"$(nproc)" -9 > "$tmp"
mv "$tmp" "$tarball"
bytes=$(stat -c %s "$tarball")
{
  echo "commit $(cat "$stage/commit")"
  echo "bytes $bytes"
  (cd "$stage" && find . -type f -printf '%s %p\n' | sort -k2)
} > "$out/manifest.txt"
echo "gpu_bundle.sh: $tarball: $((bytes / 1048576)) MiB ($(ls "$stage/bin" | wc -l) programs, $(ls "$stage/lib" | wc -l) libraries)"
if [ "$bytes" -gt $((limit_mib * 1048576)) ]; then
  echo "gpu_bundle.sh: the bundle exceeds ${limit_mib} MiB" >&2
  exit 1
fi

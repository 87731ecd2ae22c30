#!/usr/bin/env bash
# The GPU bundle (scripts/gpu_bundle.sh) is within its size limit and
# self-contained: every library a program or bundled library needs is in the
# bundle or on the base list, ldd resolves nothing to this machine's
# LLVM/MLIR/OpenBLAS/fmt, a GPU program reports its skip and a CPU suite
# passes with only the bundle's libraries on the library path, and
# scripts/gpu_check.sh runs end to end in its no-GPU mode.
#
#   check_bundle.sh SOURCE_DIR SCRATCH_DIR
set -euo pipefail
src=$1
scratch=$2
limit=$((60 * 1048576))
rm -rf "$scratch"
mkdir -p "$scratch"
fail() { echo "check_bundle: $*" >&2; exit 1; }

bash "$src/scripts/gpu_bundle.sh" --out "$scratch/out" --build "$src/build-gpu"
tarball="$scratch/out/mfx-gpu.tar.xz"
bytes=$(stat -c %s "$tarball")
echo "bundle: $bytes bytes"
[ "$bytes" -le "$limit" ] || fail "$tarball is $bytes bytes, over 60 MiB"

u="$scratch/unpacked"
mkdir -p "$u"
tar -C "$u" -xJf "$tarball"
[ -s "$u/tests.tsv" ] || fail "no tests.tsv in the bundle"
for p in bench_gpu bench_criteria bench_matching train_coco eval_coco; do
  [ -x "$u/bin/$p" ] || fail "the bundle lacks $p"
done
while IFS=$'\t' read -r name prog env; do
  [ -x "$u/bin/$prog" ] || fail "the bundle lacks $prog (test $name)"
done < "$u/tests.tsv"

# Declared dependencies: each NEEDED entry is a bundled library or on the base list.
base='^(ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libz\.so\.1)$'
bad=""
for f in "$u"/bin/* "$u"/lib/*; do
  for n in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [[ "$n" =~ $base ]] && continue
    [ -f "$u/lib/$n" ] || bad="$bad $(basename "$f")->$n"
  done
done
[ -z "$bad" ] || fail "needed outside the bundle and the base list:$bad"

# Resolution: with the bundle first on the path, nothing resolves to this
# machine's libraries beyond the base list.
bad=""
for f in "$u"/bin/* "$u"/lib/*; do
  while read -r n path; do
    [[ "$n" =~ $base || "$n" == linux-vdso.so.1 ]] && continue
    case "$path" in "$u"/lib/*) ;; *) bad="$bad $(basename "$f")->$n=$path" ;; esac
  done < <(LD_LIBRARY_PATH="$u/lib" ldd "$f" | awk '/=>/ {print $1, $3}')
done
[ -z "$bad" ] || fail "resolved outside the bundle:$bad"

# A GPU program skips cleanly here (exit 77), a CPU suite passes; both see
# only the bundle's libraries and a minimal environment.
run() { env -i PATH=/usr/bin:/bin HOME="$scratch" LD_LIBRARY_PATH="$u/lib" MFX_TEST_DATA_DIR="$u/data" "$@"; }
set +e
run "$u/bin/mfx_gpu_eager_ops" > "$scratch/gpu_program.log" 2>&1
rc=$?
set -e
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  [ "$rc" = 0 ] || fail "mfx_gpu_eager_ops failed on this GPU (rc $rc)"
else
  [ "$rc" = 77 ] || { cat "$scratch/gpu_program.log"; fail "mfx_gpu_eager_ops: rc $rc, expected the skip (77)"; }
fi
(cd "$scratch" && run "$u/bin/mfx_test_nn") > "$scratch/cpu_suite.log" 2>&1 ||
  { tail -n 30 "$scratch/cpu_suite.log"; fail "mfx_test_nn from the bundle failed"; }

# The device call's script end to end (no GPU here: every part skips).
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  bash "$src/scripts/gpu_check.sh" --bundle "$tarball" --out "$scratch/check" ||
    { cat "$scratch/check/summary.md"; fail "gpu_check.sh failed in its no-GPU mode"; }
  summary="$scratch/check/summary.md"
  [ -s "$summary" ] || fail "gpu_check.sh wrote no summary"
  for part in tests bench_gpu criteria matching train; do
    grep -qE "^\| $part \| (skip|0 passed, 0 failed, [1-9][0-9]* skipped)" "$summary" ||
      { cat "$summary"; fail "part $part did not report its skip"; }
  done
  [ "$(find "$scratch/check" -type f | wc -l)" -le 8 ] || fail "gpu_check.sh wrote more than 8 files"
fi
echo "check_bundle: ok"

#!/usr/bin/env bash
# Runs the GPU checks from the bundle that scripts/gpu_bundle.sh made: what a
# call on the lent GPU machine runs (`bash scripts/gpu_check.sh`, carrying
# .gpu). Each part has its own time limit, so one hang cannot eat the call:
#   tests      every gpu-labelled test (GPU programs, MFX_TEST_DEVICE=gpu suites)
#   bench_gpu  bandwidth fractions, matmul against cuBLAS, launch overheads
#   criteria   bench_criteria: match-free loss fwd+bwd eager / jit / CUDA graph
#   matching   bench_matching: the paper's Table 2 (Hungarian vs match-free)
#   train      train_coco --device gpu --jit, 50 steps; the same steps on the CPU
# Writes into $OUT (default ./gpu_check_out) seven files: summary.md,
# tests.log, benches.log, train.log and the benchmarks' JSON tables. Without a GPU every part reports "skipped: no GPU".
#
#   scripts/gpu_check.sh [--bundle FILE] [--out DIR] [--parts "tests bench_gpu ..."]
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bundle="$here/.gpu/mfx-gpu.tar.xz"
out=${OUT:-$PWD/gpu_check_out}
parts="tests bench_gpu criteria matching train"
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --parts) parts=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
summary="$out/summary.md"
start=$(date +%s)
: > "$summary"
say() { echo "$*" | tee -a "$summary"; }

[ -f "$bundle" ] || { say "gpu_check: no bundle at $bundle (run scripts/gpu_bundle.sh first)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/mfx-gpu.XXXXXX")
trap 'rm -rf "$work"' EXIT
# xz may be missing on a bare image; Python's tarfile reads it too.
if command -v xz >/dev/null; then
  tar -C "$work" -xJf "$bundle"
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$work"
fi || { say "gpu_check: cannot unpack $bundle"; exit 1; }
say "# mfx GPU check"
say ""
say "bundle: $bundle (commit $(cat "$work/commit")), host $(uname -n), $(date -u '+%Y-%m-%d %H:%M UTC')"

# The driver, cuBLAS(Lt) and NCCL of this machine: the CUDA toolkit's and the
# driver's folders, then the nvidia/*/lib folders of Python's site-packages.
search_dirs=()
add_search() {  # existing folders, each once (by real path)
  local d r s
  for d in "$@"; do
    [ -d "$d" ] || continue
    r=$(readlink -f "$d")
    for s in "${search_dirs[@]}"; do [ "$(readlink -f "$s")" = "$r" ] && continue 2; done
    search_dirs+=("$d")
  done
}
for d in "${CUDA_HOME:-/nonexistent}" /usr/local/cuda /usr/local/cuda-*; do
  add_search "$d/lib64" "$d/targets/x86_64-linux/lib"
done
add_search /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/lib/wsl/lib
for py in python3 /usr/bin/python3; do
  command -v "$py" >/dev/null || continue
  while read -r sp; do
    add_search "$sp"/nvidia/*/lib
  done < <("$py" -c 'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null)
done
find_lib() {  # first file named like one of the patterns, in search order
  local pat d f
  for pat in "$@"; do
    for d in "${search_dirs[@]}"; do
      for f in "$d"/$pat; do [ -e "$f" ] && { echo "$f"; return 0; }; done
    done
  done
  return 1
}
libpath=""
add_dir() { case ":$libpath:" in *":$1:"*) ;; *) libpath="${libpath:+$libpath:}$1" ;; esac; }
missing=""
say ""
say "## Libraries"
for lib in "libcuda.so.1" "libcublas.so.13 libcublas.so.12" "libcublasLt.so.13 libcublasLt.so.12" "libnccl.so.2"; do
  # shellcheck disable=SC2086
  if f=$(find_lib $lib); then
    say "- ${lib%% *}: $f"
    add_dir "$(dirname "$f")"
  else
    say "- ${lib%% *}: NOT FOUND (searched: ${search_dirs[*]})"
    missing="$missing ${lib%% *}"
  fi
done
export LD_LIBRARY_PATH="$work/lib${libpath:+:$libpath}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export MFX_TEST_DATA_DIR="$work/data"

gpu=0
say ""
say "## GPU"
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 && [[ "$missing" != *libcuda* ]]; then
  gpu=1
  say '```'
  nvidia-smi 2>&1 | tee -a "$summary"
  say '```'
else
  say "no GPU: every part is run for the bundle's sake and reports \"skipped: no GPU\""
fi
if [ "$gpu" = 1 ] && [ -n "$missing" ]; then
  say "gpu_check: a GPU is here but$missing could not be found: install them or set CUDA_HOME"
  exit 1
fi

# Runs one program under a time limit; prints pass / skip / FAIL / TIMEOUT.
# A program that prints "skipped: no GPU" and exits 0 (the benchmarks) or
# exits 77 (the test programs) is a skip.
status_of() {
  local rc=$1 log=$2
  if [ "$rc" = 77 ] || { [ "$rc" = 0 ] && grep -q '^skipped: no GPU' "$log"; }; then echo skip
  elif [ "$rc" = 0 ]; then echo pass
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo TIMEOUT
  else echo "FAIL(rc=$rc)"; fi
}
declare -A part_status
run_part() {  # name seconds log command...
  local name=$1 secs=$2 log=$3
  shift 3
  local t0 rc
  t0=$(date +%s)
  (cd "$work" && timeout -k 10 "$secs" "$@") > "$log" 2>&1
  rc=$?
  part_status[$name]="$(status_of "$rc" "$log") in $(($(date +%s) - t0)) s"
  echo "  $name: ${part_status[$name]}"
}

for part in $parts; do
  case "$part" in
    tests)
      # Up to 4 programs at a time (one GPU, 16 cores), each under 100 s, all under 150 s.
      t0=$(date +%s)
      mkdir -p "$work/logs"
      export WORK=$work
      run_test() {
        local name prog env
        IFS=$'\t' read -r name prog env <<< "$1"
        # shellcheck disable=SC2086
        (cd "$WORK" && env $env timeout -k 5 100 "./bin/$prog" > "logs/$name.log" 2>&1)
        echo "$name $?" >> "$WORK/logs/rc.txt"
      }
      export -f run_test
      timeout -k 10 150 xargs -P 4 -d '\n' -I{} bash -c 'run_test "$1"' _ {} < "$work/tests.tsv"
      pass=0 skip=0 fail=0 failed=""
      while IFS=$'\t' read -r name prog env; do
        rc=$(awk -v n="$name" '$1 == n {print $2}' "$work/logs/rc.txt" 2>/dev/null | tail -n 1)
        st=$(status_of "${rc:-124}" "$work/logs/$name.log")
        case "$st" in pass) pass=$((pass + 1)) ;; skip) skip=$((skip + 1)) ;;
          *) fail=$((fail + 1)); failed="$failed $name:$st" ;; esac
        { echo "===== $name ($prog${env:+, $env}): $st"; tail -n 60 "$work/logs/$name.log" 2>/dev/null; } >> "$out/tests.log"
      done < "$work/tests.tsv"
      part_status[tests]="$pass passed, $fail failed, $skip skipped in $(($(date +%s) - t0)) s${failed:+ (failed:$failed)}"
      echo "  tests: ${part_status[tests]}"
      ;;
    bench_gpu) run_part bench_gpu 50 "$work/bench_gpu.log" ./bin/bench_gpu --json "$out/bench_gpu.json" ;;
    criteria)
      run_part criteria 110 "$work/bench_criteria.log" ./bin/bench_criteria --device gpu \
        --json "$out/bench_criteria.json" --report "$work/criteria_report" ;;
    matching)
      run_part matching 80 "$work/bench_matching.log" ./bin/bench_matching --device gpu \
        --json "$out/bench_matching.json" ;;
    train)
      if [ "$gpu" = 0 ]; then
        part_status[train]="skip (skipped: no GPU)"
        echo "skipped: no GPU" > "$out/train.log"
        echo "  train: ${part_status[train]}"
        continue
      fi
      # 50 steps of the default preset on the GPU through the jitted step,
      # then 20 of the same steps on this machine's CPU for the img/s ratio.
      # A small generated set keeps generation and evaluation short.
      args=(--epochs 1 --max-steps 50 --workers 2 --train-images 256 --val-images 16)
      run_part train 60 "$out/train.log" ./bin/train_coco --device gpu --jit "${args[@]}" --out "$work/train_gpu"
      echo "----- the same on the CPU, 20 steps" >> "$out/train.log"
      (cd "$work" && timeout -k 10 30 ./bin/train_coco --device cpu --epochs 1 --max-steps 20 \
        --workers 2 --train-images 256 --val-images 16 --out "$work/train_cpu") >> "$out/train.log" 2>&1
      ;;
    *) say "gpu_check: unknown part $part"; exit 2 ;;
  esac
done

say ""
say "## Results"
say ""
say "| part | result |"
say "|---|---|"
for part in $parts; do say "| $part | ${part_status[$part]:-not run} |"; done
# The benchmarks' tables, in the summary and (whole logs) in benches.log.
for j in bench_gpu bench_criteria bench_matching; do
  [ -f "$work/$j.log" ] || continue
  { echo "===== $j"; cat "$work/$j.log"; } >> "$out/benches.log"
  if ! grep -q '^skipped' "$work/$j.log"; then
    say ""
    say "### $j"
    say '```'
    tail -n 30 "$work/$j.log" >> "$summary"
    say '```'
  fi
done
if [ "$gpu" = 1 ] && [ -f "$out/train.log" ]; then
  say ""
  say "### train_coco (GPU --jit, then CPU)"
  say '```'
  grep -E 'img/s|step|AP' "$out/train.log" | tail -n 20 >> "$summary"
  say '```'
fi
say ""
say "total $(($(date +%s) - start)) s"
failed=0
for part in $parts; do
  case "${part_status[$part]:-}" in pass*|skip*|*" 0 failed"*) ;; *) failed=1 ;; esac
done
exit $failed

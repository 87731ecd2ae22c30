#!/usr/bin/env bash
# Installs the Debian packages mfx builds and tests with (Debian 12); libzstd-dev
# is for the GPU bundle (scripts/gpu_bundle.sh links zstd statically).
# Skips apt entirely when everything is already there.
set -euo pipefail

packages=(g++ cmake ninja-build ccache lld libopenblas-dev libfmt-dev nlohmann-json3-dev catch2
          python3 python3-venv python3-pip libopenmpi-dev openmpi-bin libmlir-19-dev mlir-19-tools llvm-19-dev libomp-19-dev
          libjpeg62-turbo-dev libpng-dev libzstd-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

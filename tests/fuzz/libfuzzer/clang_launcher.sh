#!/bin/sh
# Compiler launcher of the libFuzzer targets (CMakeLists.txt next to this):
# called by CMake as `clang_launcher.sh CLANGXX CCACHE COMPILER ARGS...`, it
# runs ARGS with clang++ instead of the build's COMPILER, through CCACHE when
# that is a program (CMake passes MFX_CCACHE-NOTFOUND otherwise). Only the
# instrumented sources need clang; the libraries they link come from the
# normal build.
clangxx=$1 ccache=$2
shift 3
if [ -x "$ccache" ]; then exec "$ccache" "$clangxx" "$@"; fi
exec "$clangxx" "$@"

// GPU check of cumsum (ctest "gpu_scan", label gpu): every dtype the device
// kernels take, every axis, reversed and exclusive, equals the CPU exactly
// (same accumulation order), views included; a jitted function with cumsum
// (the detector's position encoding shape) is captured as a CUDA graph.
// Without a GPU it prints why and exits 77 (ctest: skipped).
#include <fmt/format.h>

#include <cstdio>
#include <functional>

#include "mfx/jit.h"
#include "mfx/mfx.h"

#include "gpu_check.h"

using namespace mfx;
using gpu_check::expect;
using gpu_check::expect_identical;

namespace {

void all_cases() {
  array base = random::normal(random::key(1), {5, 37, 9}) * 3.0f;
  for (Dtype t : {float32, float64, int32, int64, uint8, bool_}) {
    array x = t == bool_ ? greater(base, array(0.0f)) : astype(abs(base), t);
    array gx = to_device(x, Device::gpu());
    for (int axis : {0, 1, 2}) {
      for (bool reverse : {false, true}) {
        for (bool inclusive : {true, false}) {
          expect_identical(cumsum(gx, axis, reverse, inclusive),
                           cumsum(x, axis, reverse, inclusive),
                           fmt::format("cumsum {} axis {} reverse {} inclusive {}", dtype_name(t),
                                       axis, reverse, inclusive));
        }
      }
    }
    // A transposed view: made row-major first.
    expect_identical(cumsum(transpose(gx, {2, 0, 1}), 2), cumsum(transpose(x, {2, 0, 1}), 2),
                     fmt::format("cumsum of a view, {}", dtype_name(t)));
  }
}

// Sine position encoding's first step: cumulative sums of the not-padding mask.
void position_graph() {
  JitOptions o;
  o.name = "position_graph";
  o.cuda_graph = true;
  auto f = jit(
      [](const std::vector<array>& a) {
        array not_mask = astype(logical_not(a[0]), float32);
        return std::vector<array>{cumsum(not_mask, 1), cumsum(not_mask, 2)};
      },
      o);
  for (int call = 0; call < 3; ++call) {
    array mask = greater(random::uniform(random::key(10 + call), {2, 24, 32}), array(0.8f));
    auto got = f({to_device(mask, Device::gpu())});
    array nm = astype(logical_not(mask), float32);
    expect_identical(got[0], cumsum(nm, 1), fmt::format("graph call {}: rows", call));
    expect_identical(got[1], cumsum(nm, 2), fmt::format("graph call {}: columns", call));
  }
  expect(f.stats().cuda_graph == "captured", "cumsum graph status: " + f.stats().cuda_graph);
}

}  // namespace

int main() {
  return gpu_check::run("gpu_scan", {{"cumsum", all_cases}, {"position graph", position_graph}});
}

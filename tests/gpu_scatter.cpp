// GPU check of scatter / scatter_add (ctest "gpu_scatter", label gpu): every
// dtype the device kernels take, several axes, duplicate and negative
// indices, int32 and int64 indices, equal the CPU exactly (same order of
// writes and sums); an out-of-range index is reported when the result is
// read; a jitted scatter_add is captured as a CUDA graph.
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

array gpu(const array& x) {
  return to_device(x, Device::gpu());
}

void all_cases() {
  array base = random::normal(random::key(1), {6, 7, 5}) * 4.0f;
  for (Dtype t : {float32, float64, int32, int64, uint8, bool_}) {
    array a = t == bool_ ? greater(base, array(1.0f)) : astype(abs(base), t);
    for (int axis : {0, 1, 2}) {
      Shape s = a.shape();
      s[axis] = 9;  // more updates than positions: duplicates
      for (Dtype it : {int32, int64}) {
        array idx = astype(
            random::randint(random::key(2 + axis), -a.shape()[axis], a.shape()[axis], s, int64),
            it);
        array upd = t == bool_ ? greater(random::normal(random::key(3), s), array(0.0f))
                               : astype(abs(random::normal(random::key(3), s) * 3.0f), t);
        const std::string what =
            fmt::format("{} axis {} {} indices", dtype_name(t), axis, dtype_name(it));
        expect_identical(scatter(gpu(a), gpu(idx), gpu(upd), axis), scatter(a, idx, upd, axis),
                         "scatter " + what);
        expect_identical(scatter_add(gpu(a), gpu(idx), gpu(upd), axis),
                         scatter_add(a, idx, upd, axis), "scatter_add " + what);
      }
    }
  }
}

void out_of_range() {
  array a = zeros({4, 3});
  array idx = array({0, 4, 1}, Shape{1, 3}, int32);
  bool reported = false;
  try {
    to_device(scatter_add(gpu(a), gpu(idx), gpu(ones({1, 3})), 0), Device::cpu());
  } catch (const std::invalid_argument& e) {
    reported = std::string(e.what()).find("index 4") != std::string::npos;
  }
  expect(reported, "an out-of-range scatter index is reported at the read");
}

void scatter_graph() {
  JitOptions o;
  o.name = "scatter_graph";
  o.cuda_graph = true;
  auto f = jit(
      [](const std::vector<array>& a) {
        return std::vector<array>{scatter_add(zeros({100, 8}), a[0], a[1], 0) * 2.0f};
      },
      o);
  for (int call = 0; call < 3; ++call) {
    array idx = random::randint(random::key(20 + call), 0, 100, {300, 8}, int32);
    array upd = random::normal(random::key(30 + call), {300, 8});
    array want = scatter_add(zeros({100, 8}), idx, upd, 0) * 2.0f;
    expect_identical(f({gpu(idx), gpu(upd)})[0], want, fmt::format("graph call {}", call));
  }
  expect(f.stats().cuda_graph == "captured", "scatter graph status: " + f.stats().cuda_graph);
}

}  // namespace

int main() {
  return gpu_check::run(
      "gpu_scatter",
      {{"scatter", all_cases}, {"out of range", out_of_range}, {"graph", scatter_graph}});
}

// GPU check of the hand-written sort kernels (ctest "gpu_sort"): sort,
// argsort and topk on GPU arrays, dispatched by the eager GPU evaluator to
// lib/cuda/kernels/sort.cu, against the CPU primitives, bit for bit: every
// dtype, many ties (stability), NaN, -0 and infinities, rows of 1, 7, 300,
// 4096 (one block in shared memory) and 10000 elements (runs merged in
// global memory), axes other than the last (and transposed inputs), and top-k
// with k = 1, 100 and n. Without a GPU it prints why and exits 77, which ctest
// reports as skipped.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda/driver.h"
#include "cuda/sort.h"
#include "mfx/gpu.h"
#include "mfx/mfx.h"

using namespace mfx;

namespace {

const std::vector<Dtype> kDtypes = {bool_,   uint8,    int32,   int64,
                                    float16, bfloat16, float32, float64};

// Random values of `shape` as `dtype`: integers in [-spread, spread] (so
// many ties), and for floats about 5% NaN, -0, +-inf and halves.
array random_array(const Shape& shape, Dtype dtype, uint32_t seed, int spread) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> value(-spread, spread);
  std::uniform_int_distribution<int> special(0, 99);
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  const double inf = std::numeric_limits<double>::infinity();
  for (auto& x : v) {
    x = value(gen);
    if (dtype == bool_) x = x > 0 ? 1 : 0;
    if (dtype == uint8) x = (static_cast<int>(x) + spread) % 256;
    if (!is_floating(dtype)) continue;
    switch (special(gen)) {
      case 0:
      case 1:
        x = std::numeric_limits<double>::quiet_NaN();
        break;
      case 2:
        x = -0.0;
        break;
      case 3:
        x = inf;
        break;
      case 4:
        x = -inf;
        break;
      case 5:
        x += 0.5;
        break;
      default:
        break;
    }
  }
  return array(v, shape, dtype);
}

// Equal as the CPU writes them: NaN matches NaN, -0 only -0.
bool same(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

int failures = 0;
int checks = 0;

void compare(const std::string& what, const array& got, const array& want) {
  ++checks;
  std::string why;
  if (!got.on_gpu()) why = "not on the GPU";
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) {
    why = fmt::format("shape {} {} instead of {} {}", shape_str(got.shape()),
                      dtype_name(got.dtype()), shape_str(want.shape()), dtype_name(want.dtype()));
  }
  if (why.empty()) {
    auto g = got.to_vector<double>();
    auto w = want.to_vector<double>();
    for (size_t i = 0; i < w.size(); ++i) {
      if (!same(g[i], w[i])) {
        why = fmt::format("element {} is {} instead of {}", i, g[i], w[i]);
        break;
      }
    }
  }
  if (!why.empty()) {
    ++failures;
    std::printf("FAILED %s: %s\n", what.c_str(), why.c_str());
  }
}

// sort / argsort / topk of x along `axis` on the GPU against the CPU.
// With `transposed`, both sort the transpose of x (a strided view on the GPU:
// to_device would make a host view row-major).
void check_all(const array& x0, int axis, const std::string& label, bool transposed = false) {
  const array x = transposed ? transpose(x0) : x0;
  const array xg =
      transposed ? transpose(to_device(x0, Device::gpu())) : to_device(x0, Device::gpu());
  const std::string where =
      fmt::format("{} {} {} axis {}", label, dtype_name(x.dtype()), shape_str(x.shape()), axis);
  compare("sort " + where, sort(xg, axis), sort(x, axis));
  compare("argsort " + where, argsort(xg, axis), argsort(x, axis));
  const int ax = axis < 0 ? axis + x.ndim() : axis;
  const int64_t n = x.shape()[ax];
  for (int64_t k : {int64_t{1}, int64_t{100}, n}) {
    if (k > n) continue;
    auto [gv, gi] = topk(xg, k, axis);
    auto [wv, wi] = topk(x, k, axis);
    compare(fmt::format("topk k={} values {}", k, where), gv, wv);
    compare(fmt::format("topk k={} indices {}", k, where), gi, wi);
  }
}

}  // namespace

int main() {
  if (!cuda::gpu_available()) {
    std::printf("skipped: no GPU (%s)\n", cuda::gpu_unavailable_reason().c_str());
    return 77;
  }
  if (!cuda::sort_kernels_built()) {
    std::printf("skipped: built without nvcc, no sort kernels\n");
    return 77;
  }
  uint32_t seed = 1;
  for (Dtype dt : kDtypes) {
    // Rows along the last axis: one element, a partial warp, shared-memory
    // sizes up to a full chunk, and three runs merged in two passes.
    for (int64_t n : {1, 7, 300, 4096, 10000}) {
      const int spread = n > 1000 ? 2000 : 5;
      check_all(random_array({3, n}, dt, seed++, spread), -1, "rows");
    }
    // Many short rows, and one row of exactly two runs (one merge pass).
    check_all(random_array({1000, 7}, dt, seed++, 3), -1, "many rows");
    check_all(random_array({8192}, dt, seed++, 50), 0, "1-d");
    // Other axes: moved last by a copy, results handed back as views.
    check_all(random_array({300, 5}, dt, seed++, 5), 0, "axis 0");
    check_all(random_array({3, 10000, 2}, dt, seed++, 2000), 1, "middle axis");
    // A transposed (non-row-major) input.
    check_all(random_array({257, 6}, dt, seed++, 5), -1, "transposed", true);
  }
  // Empty rows and k = 0.
  array empty = random_array({4, 0}, float32, seed++, 5);
  check_all(empty, -1, "empty");
  auto [v0, i0] = topk(to_device(random_array({4, 9}, float32, seed++, 5), Device::gpu()), 0, -1);
  compare("topk k=0", v0, zeros({4, 0}, float32));
  compare("topk k=0 indices", i0, zeros({4, 0}, int32));
  std::printf("%d of %d comparisons passed\n", checks - failures, checks);
  std::printf("%s\n", failures ? "FAILED" : "all sort GPU checks passed");
  return failures ? 1 : 0;
}

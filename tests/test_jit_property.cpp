// Property test: random programs (elementwise chains, broadcasts, reductions
// over random axes, gathers, softmax/logsumexp, where) give the same values
// under jit as eagerly, with the CPU and the GPU plan. Exact numerics:
// float64 to 1e-12 relative; fast numerics: 1e-6 relative on float64 programs.
#include <random>

#include "grad_check.h"
#include "mfx/jit.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

// A random program over values of shape [A, B, C]: each step combines the
// pool's values; the last few values are the outputs.
ArrayFn random_program(uint64_t seed) {
  return [seed](const std::vector<array>& in) {
    std::mt19937_64 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    std::vector<array> pool = in;
    const int steps = 6 + static_cast<int>(pick(6));
    for (int s = 0; s < steps; ++s) {
      const array& x = pool[pick(pool.size())];
      const array& y = pool[pick(pool.size())];
      array r;
      switch (pick(13)) {
        case 0:
          r = x + y;
          break;
        case 1:
          r = x * y - 0.5;
          break;
        case 2:
          r = tanh(x) + exp(-square(y));
          break;
        case 3:
          r = where(x > y, x, y * 2.0);
          break;
        case 4:
          r = x - max(x, static_cast<int>(pick(3)), true);
          break;
        case 5:
          r = x / (sum(abs(x), static_cast<int>(pick(3)), true) + 1.0);
          break;
        case 6:
          r = softmax(x, static_cast<int>(pick(3)));
          break;
        case 7:
          r = broadcast_to(logsumexp(x, std::vector<int>{static_cast<int>(pick(3))}, true),
                           x.shape()) +
              y;
          break;
        case 8:
          r = x * mean(y, std::vector<int>{0, 2}, true);
          break;
        case 9: {  // a gather along a random axis, then elementwise
          int axis = static_cast<int>(pick(3));
          int64_t n = x.shape()[axis];
          array idx =
              astype(remainder(arange(n, int32) * 3 + 1, array(static_cast<int32_t>(n))), int32);
          r = sigmoid(take(x, idx, axis)) + y;
          break;
        }
        case 10:
          r = transpose(transpose(x, {2, 1, 0}) * 0.5, {2, 1, 0}) + minimum(x, y);
          break;
        case 11:  // short contractions (a GPU plan makes them fused reductions)
          r = matmul(x, matmul(swapaxes(y, 1, 2), y)) * 0.1;
          break;
        default:
          r = sqrt(square(x) + 1.0) * sum(y, std::vector<int>{0, 1, 2}, true);
          break;
      }
      pool.push_back(r);
    }
    std::vector<array> outs(pool.end() - 2, pool.end());
    outs.push_back(sum(pool.back(), std::vector<int>{static_cast<int>(pick(3))}));
    return outs;
  };
}

}  // namespace

TEST_CASE("random programs: jit equals eager (exact and fast numerics)", "[jit][property]") {
  int fused = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("program seed " << seed);
    const Shape shape{3 + static_cast<int64_t>(seed % 3), 5, 4 + static_cast<int64_t>(seed % 4)};
    std::vector<array> args{rand_like(shape, seed * 3), rand_like(shape, seed * 3 + 1)};
    ArrayFn f = random_program(seed);
    auto want = f(args);
    auto exact = jit(f, {.name = "prop"});
    auto fast = jit(f, {.name = "prop_fast", .fast_math = true});
    // The GPU plan (block fusion from two batch elements, short
    // contractions as fused reductions) runs here with CPU kernels.
    // (Half of the programs: compiling three plans of each is the cost.)
    auto gpu_plan = jit(f, {.name = "prop_gpu", .plan_for_gpu = true});
    auto got = exact(args);
    auto got_fast = fast(args);
    auto got_gpu = seed % 2 ? want : gpu_plan(args);
    INFO(exact.report_json());
    for (size_t k = 0; k < want.size(); ++k) {
      check_close(got[k], values(want[k]), want[k].shape(), 1e-12, 1e-12);
      check_close(got_fast[k], values(want[k]), want[k].shape(), 1e-6, 1e-6);
      check_close(got_gpu[k], values(want[k]), want[k].shape(), 1e-12, 1e-12);
    }
    fused += exact.stats().kernels < exact.stats().executed_nodes;
  }
  CHECK(fused >= 30);  // fusion actually happened in most programs
}

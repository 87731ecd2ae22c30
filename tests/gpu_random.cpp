// GPU check of the random kernels (ctest "gpu_random", label gpu): split,
// fold_in, bits, uniform (float32/float64), randint, bernoulli and dropout
// on GPU keys equal the CPU bit for bit; an invalid int64 key is reported
// when the result is read; a jitted function with dropout is captured as a
// CUDA graph (no host round trip left) and its replays equal the CPU.
// Without a GPU it prints why and exits 77 (ctest: skipped).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>

#include "mfx/jit.h"
#include "mfx/mfx.h"

#include "gpu_check.h"

using namespace mfx;
using gpu_check::expect;
using gpu_check::expect_identical;

namespace {

void expect_close(const array& gpu_result, const array& cpu_result, double tol,
                  const std::string& what) {
  auto g = to_device(gpu_result, Device::cpu()).to_vector<double>();
  auto c = cpu_result.to_vector<double>();
  bool ok = g.size() == c.size();
  for (size_t i = 0; ok && i < g.size(); ++i)
    ok = std::abs(g[i] - c[i]) <= tol * (1 + std::abs(c[i]));
  expect(ok, what);
}

void primitives() {
  for (uint64_t seed : {0ull, 7ull, 123456789ull}) {
    array key = random::key(seed);
    array gkey = to_device(key, Device::gpu());
    const std::string s = fmt::format(" (seed {})", seed);
    expect_identical(random::split(gkey, 5), random::split(key, 5), "split" + s);
    expect_identical(random::fold_in(gkey, 42), random::fold_in(key, 42), "fold_in" + s);
    expect_identical(random::bits(gkey, {3, 1000}), random::bits(key, {3, 1000}), "bits" + s);
    for (Dtype t : {float32, float64}) {
      expect_identical(random::uniform(gkey, {257, 33}, -2.0, 3.0, t),
                       random::uniform(key, {257, 33}, -2.0, 3.0, t),
                       "uniform " + std::string(dtype_name(t)) + s);
      // normal's erfinv uses the device's math library: an ulp or two apart.
      expect_close(random::normal(gkey, {1000}, 0.0, 1.0, t),
                   random::normal(key, {1000}, 0.0, 1.0, t), t == float64 ? 1e-13 : 1e-6,
                   "normal " + std::string(dtype_name(t)) + s);
    }
    for (Dtype t : {uint8, int32, int64}) {
      expect_identical(random::randint(gkey, 3, 200, {999}, t),
                       random::randint(key, 3, 200, {999}, t),
                       "randint " + std::string(dtype_name(t)) + s);
    }
    array p = full({64, 64}, array(0.3f));
    expect_identical(random::bernoulli(gkey, to_device(p, Device::gpu()), {64, 64}),
                     random::bernoulli(key, p, {64, 64}), "bernoulli" + s);
    array x = random::normal(random::key(99), {32, 48});
    expect_identical(dropout(to_device(x, Device::gpu()), 0.1, gkey, true),
                     dropout(x, 0.1, key, true), "dropout" + s);
    // The high counter word, the full int64 range (unsigned wrap), int32 keys.
    const uint64_t far = (uint64_t{1} << 40) + 5;
    expect_identical(random::fold_in(gkey, far), random::fold_in(key, far), "fold_in far" + s);
    const int64_t lo = std::numeric_limits<int64_t>::min(),
                  hi = std::numeric_limits<int64_t>::max();
    expect_identical(random::randint(gkey, lo, hi, {500}, int64),
                     random::randint(key, lo, hi, {500}, int64), "randint full range" + s);
    array key32 = astype(key, int32);
    expect_identical(random::uniform(to_device(key32, Device::gpu()), {300}),
                     random::uniform(key32, {300}), "uniform with an int32 key" + s);
  }
}

void bad_key() {
  array bad = to_device(array({int64_t{1} << 40, int64_t{3}}, Shape{2}, int64), Device::gpu());
  bool reported = false;
  try {
    array u = random::uniform(bad, {16});
    u.eval();  // queued; reported at the read
    to_device(u, Device::cpu());
  } catch (const std::invalid_argument& e) {
    reported = std::string(e.what()).find("key word") != std::string::npos;
  }
  expect(reported, "an int64 key word outside [0, 2^32) is reported");
}

// The key is an input: every call draws new masks, all on the device.
void dropout_graph() {
  JitOptions o;
  o.name = "dropout_graph";
  o.cuda_graph = true;
  auto f = jit(
      [](const std::vector<array>& a) {
        return std::vector<array>{dropout(a[0], 0.25, random::fold_in(a[1], 3), true) * 2.0f};
      },
      o);
  array x = random::normal(random::key(5), {64, 64});
  for (int call = 0; call < 4; ++call) {
    array key = random::key(100 + call);
    array want = dropout(x, 0.25, random::fold_in(key, 3), true) * 2.0f;
    array got = f({to_device(x, Device::gpu()), to_device(key, Device::gpu())})[0];
    expect_identical(got, want, fmt::format("jitted dropout, call {}", call));
  }
  expect(f.stats().cuda_graph == "captured", "dropout graph status: " + f.stats().cuda_graph);
}

}  // namespace

int main() {
  return gpu_check::run(
      "gpu_random",
      {{"primitives", primitives}, {"bad key", bad_key}, {"dropout graph", dropout_graph}});
}

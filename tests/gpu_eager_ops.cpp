// GPU check of eager ops (run by ctest as "gpu_eager_ops", label gpu):
// host<->device round trips, every op family with a one-op kernel on GPU
// arrays against the same op on the CPU, matmul through cuBLAS, placement
// rules and errors, and the caching allocator's statistics after the run.
// Without a GPU it prints why and exits 77, which ctest reports as skipped.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "mfx/mfx.h"

using namespace mfx;

namespace {

int failures = 0;
int checks = 0;

void expect(bool ok, const std::string& what) {
  ++checks;
  if (!ok) {
    ++failures;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

array random_array(Shape shape, Dtype dtype, uint32_t seed, double lo = -2, double hi = 2) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return array(v, shape, dtype);
}

double tolerance(Dtype d) {
  switch (d) {
    case float16:
      return 2e-3;
    case bfloat16:
      return 1.6e-2;
    case float64:
      return 1e-12;
    default:
      return 2e-5;
  }
}

// Largest |got - want| / (atol + rtol |want|); <= 1 passes.
double worst(const array& got, const array& want, double rtol, double atol) {
  auto g = got.to_vector<double>();
  auto w = want.to_vector<double>();
  if (g.size() != w.size() || got.shape() != want.shape()) return 1e30;
  double m = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i]) && std::isnan(g[i])) continue;
    m = std::max(m, std::abs(g[i] - w[i]) / (atol + rtol * std::abs(w[i])));
  }
  return m;
}

const Device gpu0 = Device::gpu(0);

// f on host inputs (CPU) against f on copies of them on the GPU.
void compare(const std::string& name, const std::function<array(const std::vector<array>&)>& f,
             const std::vector<array>& host, double rtol, double atol = 1e-6) {
  try {
    array want = f(host);
    std::vector<array> dev;
    for (auto& h : host) dev.push_back(to_device(h, gpu0));
    array got = f(dev);
    got.eval();
    expect(got.on_gpu(), name + ": result lives on the GPU");
    double w = worst(got, want, rtol, atol);
    expect(w <= 1, fmt::format("{}: GPU vs CPU error {:.3g} x tolerance", name, w));
  } catch (const std::exception& e) {
    expect(false, name + ": " + e.what());
  }
}

void transfers() {
  uint32_t seed = 1;
  for (Dtype dt : {float32, float16, bfloat16, float64, int32, int64, uint8, bool_}) {
    array x = astype(random_array({5, 7}, float32, seed++, -40, 40), dt);
    array views[] = {x, transpose(x, {1, 0}), slice(x, {4, 6}, {-6, -8}, {-2, -3})};
    for (auto& v : views) {
      array d = to_device(v, gpu0);
      expect(d.on_gpu() && d.device() == gpu0, "to_device places data on gpu:0");
      array back = to_device(d, Device::cpu());
      expect(!back.on_gpu(), "to_device(cpu) places data on the host");
      expect(back.to_vector<double>() == v.to_vector<double>(),
             fmt::format("round trip of {} {}", dtype_name(dt), shape_str(v.shape())));
      // A view of a GPU array copied back keeps its layout.
      array tv = to_device(transpose(d, {1, 0}), Device::cpu());
      expect(tv.to_vector<double>() == transpose(v, {1, 0}).to_vector<double>(),
             "GPU view copied to the host");
    }
  }
  array s = to_device(array(3.5f), gpu0);
  expect(s.item<float>() == 3.5f, "item() of a GPU scalar copies it back");
  try {
    s.data<float>();
    expect(false, "data() of a GPU array throws");
  } catch (const std::invalid_argument& e) {
    expect(std::string(e.what()).find("to_device") != std::string::npos,
           "data() error names to_device");
  }
}

void elementwise_and_reductions() {
  using U = array (*)(const array&);
  const std::vector<std::pair<const char*, U>> unary = {
      {"exp", [](const array& x) { return exp(x); }},
      {"log", [](const array& x) { return log(x); }},
      {"sqrt", [](const array& x) { return sqrt(x); }},
      {"tanh", [](const array& x) { return tanh(x); }},
      {"sigmoid", [](const array& x) { return sigmoid(x); }},
      {"erf", [](const array& x) { return erf(x); }},
      {"abs", [](const array& x) { return abs(x); }},
      {"floor", [](const array& x) { return floor(x); }}};
  using B = array (*)(const array&, const array&);
  const std::vector<std::pair<const char*, B>> binary = {
      {"add", [](const array& a, const array& b) { return add(a, b); }},
      {"multiply", [](const array& a, const array& b) { return multiply(a, b); }},
      {"divide", [](const array& a, const array& b) { return divide(a, b); }},
      {"maximum", [](const array& a, const array& b) { return maximum(a, b); }},
      {"power", [](const array& a, const array& b) { return power(a, b); }},
      {"greater", [](const array& a, const array& b) { return greater(a, b); }}};
  uint32_t seed = 100;
  // float64 has GPU matmul only: the code generator emits float64 for the CPU.
  for (Dtype dt : {float32, float16, bfloat16}) {
    const double tol = tolerance(dt);
    const std::string d(dtype_name(dt));
    array x = random_array({33, 65}, dt, seed++, 0.1, 3.0);
    for (auto [name, op] : unary) {
      compare(
          fmt::format("{} {}", name, d),
          [&](auto& in) {
            return op(transpose(in[0], {1, 0}));
          },
          {x}, tol);
    }
    array a = random_array({3, 1, 130}, dt, seed++, 0.5, 2.0);
    array b = random_array({7, 130}, dt, seed++, 0.5, 2.0);
    for (auto [name, op] : binary) {
      compare(
          fmt::format("{} {} broadcast", name, d), [&](auto& in) { return op(in[0], in[1]); },
          {a, b}, tol);
    }
    array c = greater(random_array({33, 1}, float32, seed++), array(0.0f));
    compare(
        "where " + d, [](auto& in) { return where(in[0], in[1], in[2]); },
        {c, x, random_array({33, 65}, dt, seed++)}, tol);
    compare(
        "clip " + d, [](auto& in) { return clip(in[0], array(0.5), array(2.0)); }, {x}, tol);
    compare(
        "scalar operand " + d, [](auto& in) { return multiply(in[0], array(2.0f)); }, {x}, tol);
    for (Dtype to : {float32, float16, int32, bool_}) {
      compare(
          fmt::format("astype {} -> {}", d, dtype_name(to)),
          [&](auto& in) { return astype(in[0], to); }, {x}, tolerance(to), 0);
    }
    array r = random_array({17, 40, 24}, dt, seed++);
    const double rt = dt == float64 ? 1e-12 : (dt == float32 ? 1e-5 : tol);
    for (std::vector<int> axes : {std::vector<int>{2}, {0}, {0, 2}, {0, 1, 2}}) {
      std::string ax = fmt::format("axes {}", axes.size());
      compare(
          "sum " + d + " " + ax, [&](auto& in) { return sum(in[0], axes); }, {r}, rt, 1e-4);
      compare(
          "mean " + d + " " + ax, [&](auto& in) { return mean(in[0], axes); }, {r}, rt, 1e-5);
      compare(
          "max " + d + " " + ax, [&](auto& in) { return max(in[0], axes); }, {r}, 0, 0);
      compare(
          "min " + d + " " + ax, [&](auto& in) { return min(in[0], axes); }, {r}, 0, 0);
      compare(
          "argmax " + d + " " + ax, [&](auto& in) { return argmax(in[0], axes[0]); }, {r}, 0, 0);
      compare(
          "argmin " + d + " " + ax, [&](auto& in) { return argmin(in[0], axes.back()); }, {r}, 0,
          0);
      compare(
          "any " + d + " " + ax, [&](auto& in) { return any(greater(in[0], array(1.9)), axes); },
          {r}, 0, 0);
    }
    compare(
        "softmax-like chain " + d,
        [](auto& in) {
          array m = max(in[0], -1, true);
          array e = exp(subtract(in[0], m));
          return divide(e, sum(e, -1, true));
        },
        {x}, tol * 4);
    compare(
        "reshape of a transpose " + d,
        [](auto& in) {
          return reshape(transpose(in[0], {1, 0}), {65 * 33});
        },
        {x}, 0, 0);
  }
  // conv2d: im2col view + cuBLAS, strided, padded, dilated and grouped.
  compare(
      "conv2d",
      [](auto& in) {
        return conv2d(in[0], in[1], {2, 1}, {1, 2}, {1, 2}, 2);
      },
      {random_array({2, 4, 13, 9}, float32, seed++), random_array({6, 2, 3, 3}, float32, seed++)},
      1e-5, 1e-5);
  // float64 kernels (libdevice's double functions) against the CPU.
  array xd = random_array({257, 33}, float64, seed++);
  compare(
      "float64 exp, log1p, tanh, softmax",
      [](auto& in) {
        array e = exp(in[0]) + log1p(abs(in[0])) + tanh(in[0]);
        return divide(e, sum(e, -1, true));
      },
      {xd}, 1e-13, 1e-14);
  array table = random_array({50, 8}, float32, seed++);
  array idx = array({49, 0, -1, 7, 3, 3}, {2, 3}, int32);
  compare(
      "take", [](auto& in) { return take(in[0], in[1], 0); }, {table, idx}, 0, 0);
  try {
    take(to_device(table, gpu0), to_device(array({50}, {1}, int32), gpu0), 0).eval();
    expect(false, "out-of-range take on the GPU throws");
  } catch (const std::invalid_argument& e) {
    expect(std::string(e.what()).find("index 50") != std::string::npos, "take error names index");
  }
}

void matmuls() {
  uint32_t seed = 300;
  for (Dtype dt : {float32, float16, bfloat16, float64}) {
    const double tol = dt == float32 ? 1e-5 : (dt == float64 ? 1e-12 : tolerance(dt) * 2);
    const std::string d(dtype_name(dt));
    array a = random_array({4, 37, 65}, dt, seed++);
    array b = random_array({65, 29}, dt, seed++);
    compare(
        "matmul batched, broadcast rhs " + d, [](auto& in) { return matmul(in[0], in[1]); }, {a, b},
        tol, 1e-4);
    compare(
        "matmul transposed lhs " + d,
        [](auto& in) {
          return matmul(transpose(in[0], {1, 0}), in[1]);
        },
        {random_array({65, 37}, dt, seed++), b}, tol, 1e-4);
    compare(
        "matmul K=0 " + d, [](auto& in) { return matmul(in[0], in[1]); },
        {random_array({3, 0}, dt, seed++), random_array({0, 5}, dt, seed++)}, 0, 0);
  }
  gpu::set_allow_tf32(true);
  compare(
      "matmul float32 with TF32", [](auto& in) { return matmul(in[0], in[1]); },
      {random_array({128, 256}, float32, seed++), random_array({256, 64}, float32, seed++)}, 2e-2,
      2e-2);
  gpu::set_allow_tf32(false);
}

void placement() {
  array h = random_array({4, 5}, float32, 900);
  array g = to_device(h, gpu0);
  try {
    add(g, h).eval();
    expect(false, "mixing a GPU and a host array throws");
  } catch (const std::invalid_argument& e) {
    std::string m = e.what();
    expect(m.find("[Add]") != std::string::npos && m.find("(4,5)") != std::string::npos &&
               m.find("gpu:0") != std::string::npos && m.find("cpu:0") != std::string::npos,
           "mixed-device error names op, shapes and devices: " + m);
  }
  // cumsum has a device kernel (bit-identical to the CPU's order of sums).
  expect(to_device(cumsum(g, 0), Device::cpu()).to_vector<double>() ==
             cumsum(to_device(g, Device::cpu()), 0).to_vector<double>(),
         "cumsum on the GPU equals the CPU");
  set_default_device(gpu0);
  array y = exp(h);  // a host input, an op created for the GPU
  y.eval();
  set_default_device(Device::cpu());
  expect(y.on_gpu(), "ops created with a GPU default device run on the GPU");
  expect(worst(y, exp(h), 2e-6, 1e-6) <= 1, "default-device exp equals the CPU's");
  expect(exp(h).device() == Device::cpu(), "host ops stay on the CPU");
}

}  // namespace

int main() {
  if (!gpu::is_available()) {
    std::printf("skipped: no GPU (%s)\n", gpu::unavailable_reason().c_str());
    return 77;
  }
  auto section = [](const char* name, void (*f)()) {
    try {
      f();
    } catch (const std::exception& e) {
      expect(false, std::string(name) + ": " + e.what());
    }
  };
  section("transfers", transfers);
  section("elementwise and reductions", elementwise_and_reductions);
  section("matmul", matmuls);
  section("placement", placement);
  gpu::synchronize();
  auto stats = gpu::memory_stats();
  std::printf(
      "allocator: in use %zu B, cached %zu B, peak %zu B, %zu allocations, %zu cache hits\n",
      stats.in_use, stats.cached, stats.peak_in_use, stats.allocations, stats.cache_hits);
  expect(stats.allocations > 0 && stats.cache_hits > 0, "allocations were served from the cache");
  expect(stats.peak_in_use >= stats.in_use && stats.peak_in_use > 0, "peak covers in-use memory");
  expect(stats.in_use < (1u << 20), "freed arrays returned their blocks (in use < 1 MiB)");
  gpu::empty_cache();
  expect(gpu::memory_stats().cached == 0, "empty_cache releases the cache");
  std::printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}

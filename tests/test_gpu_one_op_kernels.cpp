// The eager GPU path on the CPU target: every primitive the GPU runs as a
// generated one-op kernel is compiled here for the CPU and must equal the
// eager CPU kernel (random shapes, broadcasting, non-contiguous inputs, all
// float dtypes). Only the PTX launch glue is left for tests/gpu_eager_ops.cpp.
#include <filesystem>
#include <functional>
#include <random>

#include "compiler/gpu/dispatch.h"
#include "compiler/gpu/host_steps.h"
#include "compiler/gpu/one_op.h"
#include "mfx/nn.h"
#include "mfx/random.h"
#include "mfx/transforms.h"
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_throws_with;

namespace {

const std::vector<Dtype> kFloats = {float32, float16, bfloat16, float64};

// Random values in [lo, hi) of `shape`, as `dtype`.
array random_array(Shape shape, Dtype dtype, uint32_t seed, double lo = -2, double hi = 2) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(gen);
  return array(v, shape, dtype);
}

// y's graph evaluated node by node the way eager GPU ops run (views set
// strides, everything else runs its one-op kernel), compiled for the CPU.
array via_one_op(const array& y) {
  if (y.is_evaluated()) return y;
  std::vector<array> ins = y.inputs();
  for (auto& in : ins) via_one_op(in);
  std::vector<array> outs = y.outputs();
  gpu_detail::evaluate(y.primitive(), ins, outs, compiler::Target::Cpu, Device::cpu());
  return y;
}

double rtol_for(Dtype d) {
  switch (d) {
    case float16:
      return 2e-3;
    case bfloat16:
      return 1.6e-2;
    case float64:
      return 1e-12;
    default:
      return 2e-6;
  }
}

// f applied to `inputs` twice: eager CPU, and through the one-op kernel.
void check_same(const std::function<array(const std::vector<array>&)>& f,
                const std::vector<array>& inputs, double rtol, double atol = 1e-6) {
  array want = f(inputs);
  want.eval();
  array got = via_one_op(f(inputs));
  INFO("op " << (got.has_primitive() ? got.primitive().name() : "-") << " shape "
             << shape_str(want.shape()) << " dtype " << dtype_name(want.dtype()));
  REQUIRE(got.dtype() == want.dtype());
  mfx::test::check_close(got, mfx::test::values(want), want.shape(), rtol, atol);
}

}  // namespace

TEST_CASE("one-op unary kernels equal eager CPU on transposed inputs") {
  using F = array (*)(const array&);
  const std::vector<std::pair<const char*, F>> ops = {
      {"exp", [](const array& x) { return exp(x); }},
      {"log", [](const array& x) { return log(x); }},
      {"sqrt", [](const array& x) { return sqrt(x); }},
      {"tanh", [](const array& x) { return tanh(x); }},
      {"sigmoid", [](const array& x) { return sigmoid(x); }},
      {"negative", [](const array& x) { return negative(x); }},
      {"abs", [](const array& x) { return abs(x); }},
      {"sin", [](const array& x) { return sin(x); }},
      {"floor", [](const array& x) { return floor(x); }},
      {"square", [](const array& x) { return square(x); }},
      {"erf", [](const array& x) { return erf(x); }},
      {"isnan", [](const array& x) { return isnan(x); }}};
  uint32_t seed = 1;
  for (Dtype dt : kFloats) {
    for (size_t i = 0; i < ops.size(); ++i) {
      auto [name, op] = ops[i];
      if (dt != float32 && i % 3 != 0) continue;  // every op in float32, a third in the others
      INFO(name << " " << dtype_name(dt));
      // Positive values keep log/sqrt defined; the transpose is a strided view.
      array x = transpose(random_array({5, 7, 3}, dt, seed++, 0.1, 3.0), {2, 0, 1});
      check_same([&](auto& in) { return op(in[0]); }, {x}, rtol_for(dt));
    }
  }
}

TEST_CASE("one-op binary kernels broadcast and promote like eager CPU") {
  using F = array (*)(const array&, const array&);
  const std::vector<std::pair<const char*, F>> ops = {
      {"add", [](const array& a, const array& b) { return add(a, b); }},
      {"subtract", [](const array& a, const array& b) { return subtract(a, b); }},
      {"multiply", [](const array& a, const array& b) { return multiply(a, b); }},
      {"divide", [](const array& a, const array& b) { return divide(a, b); }},
      {"maximum", [](const array& a, const array& b) { return maximum(a, b); }},
      {"minimum", [](const array& a, const array& b) { return minimum(a, b); }},
      {"power", [](const array& a, const array& b) { return power(a, b); }},
      {"greater", [](const array& a, const array& b) { return greater(a, b); }},
      {"equal", [](const array& a, const array& b) { return equal(a, b); }},
      {"arctan2", [](const array& a, const array& b) { return arctan2(a, b); }}};
  uint32_t seed = 100;
  for (Dtype dt : kFloats) {
    for (size_t i = 0; i < ops.size(); ++i) {
      auto [name, op] = ops[i];
      if (dt != float32 && i % 3 != 0) continue;  // every op in float32, a third in the others
      INFO(name << " " << dtype_name(dt));
      // (3,1,5) with (4,5): both sides broadcast (stride-0 views).
      array a = random_array({3, 1, 5}, dt, seed++, 0.5, 2.0);
      array b = random_array({4, 5}, dt, seed++, 0.5, 2.0);
      check_same([&](auto& in) { return op(in[0], in[1]); }, {a, b}, rtol_for(dt));
    }
  }
  // Integers: int32 arithmetic, comparisons and an int64 sum.
  array i = astype(random_array({4, 6}, float32, 9, -50, 50), int32);
  array j = astype(random_array({6}, float32, 10, 1, 9), int32);
  for (auto [name, op] : ops) {
    if (std::string(name) == "divide" || std::string(name) == "power" ||
        std::string(name) == "arctan2") {
      continue;  // these promote integers to floats (covered above)
    }
    INFO(name << " int32");
    check_same([&](auto& in) { return op(in[0], in[1]); }, {i, j}, 0, 0);
  }
  check_same([](auto& in) { return floor_divide(in[0], in[1]); }, {i, j}, 0, 0);
  check_same([](auto& in) { return remainder(in[0], in[1]); }, {i, j}, 0, 0);
  check_same([](auto& in) { return sum(astype(in[0], int64), 0); }, {i}, 0, 0);
  // Mixed dtypes: the op casts float16 up to float32 before the Binary node.
  array h = random_array({6, 4}, float16, 7);
  array f = slice(random_array({6, 8}, float32, 8), {0, 7}, {6, -9}, {1, -2});  // negative step
  check_same([](auto& in) { return multiply(in[0], in[1]); }, {h, f}, 2e-6);
}

TEST_CASE("one-op where, clip and casts equal eager CPU") {
  uint32_t seed = 200;
  for (Dtype dt : kFloats) {
    INFO(dtype_name(dt));
    array c = greater(random_array({4, 1}, float32, seed++), array(0.0f));
    array a = random_array({4, 6}, dt, seed++);
    array b = transpose(random_array({6, 4}, dt, seed++), {1, 0});
    check_same([](auto& in) { return where(in[0], in[1], in[2]); }, {c, a, b}, rtol_for(dt));
    check_same([](auto& in) { return clip(in[0], array(-0.5), array(0.75)); }, {a}, rtol_for(dt));
    for (Dtype to : {float32, float16, bfloat16, float64, int32, int64, uint8, bool_}) {
      INFO("astype to " << dtype_name(to));
      // Values in [0, 200) keep every integer conversion defined.
      array x = random_array({3, 5}, dt, seed++, 0, 200);
      check_same([&](auto& in) { return astype(in[0], to); }, {x}, rtol_for(to), 0);
    }
  }
  array i = mfx::test::iota({2, 3});
  check_same([](auto& in) { return astype(in[0], float32); }, {i}, 0, 0);
}

TEST_CASE("one-op reductions equal eager CPU over every axis set") {
  uint32_t seed = 300;
  const std::vector<std::vector<int>> axes_sets = {{1}, {0, 2}, {0, 1, 2}};
  for (Dtype dt : kFloats) {
    for (auto& axes : axes_sets) {
      INFO(dtype_name(dt) << " axes " << axes.size() << " first " << axes[0]);
      // A sliced, transposed input (non-contiguous, negative stride).
      array x =
          transpose(slice(random_array({9, 4, 6}, dt, seed++), {8, 0, 0}, {-10, 4, 6}, {-2, 1, 1}),
                    {1, 0, 2});
      const double rtol = dt == float64 ? 1e-12 : (dt == float32 ? 1e-5 : rtol_for(dt));
      check_same([&](auto& in) { return sum(in[0], axes); }, {x}, rtol, 1e-5);
      check_same([&](auto& in) { return max(in[0], axes, true); }, {x}, 0, 0);
      check_same([&](auto& in) { return min(in[0], axes); }, {x}, 0, 0);
      check_same([&](auto& in) { return prod(in[0], axes); }, {x}, rtol * 4, 1e-5);
      // mean = sum(float32 accumulate) / n: the final Divide runs as the one-op kernel.
      check_same([&](auto& in) { return mean(in[0], axes); }, {x}, rtol, 1e-5);
      array m = greater(x, array(0.5));
      check_same([&](auto& in) { return all(in[0], axes); }, {m}, 0, 0);
      check_same([&](auto& in) { return any(in[0], axes); }, {m}, 0, 0);
    }
  }
}

TEST_CASE("argmax and argmin as one-op kernels: ties and NaN pick the first index") {
  uint32_t seed = 350;
  for (Dtype dt : {float32, float16, bfloat16, float64, int32}) {
    INFO(dtype_name(dt));
    // Rounded values repeat, so ties are common; the transpose is a strided view.
    array x = transpose(astype(random_array({7, 5, 6}, float32, seed++, -3, 3), int32), {2, 1, 0});
    x = astype(x, dt);
    for (int axis : {0, 1, 2}) {
      check_same([&](auto& in) { return argmax(in[0], axis); }, {x}, 0, 0);
      check_same([&](auto& in) { return argmin(in[0], axis, true); }, {x}, 0, 0);
    }
  }
  const float nan = std::nanf("");
  array y = array({1.0f, nan, 3.0f, nan, 3.0f, 0.0f, -1.0f, 2.0f}, {2, 4});
  array am = via_one_op(argmax(y, 1));
  mfx::test::check_close(am, {1, 0}, {2});  // np.argmax([[1,nan,3,nan],[3,0,-1,2]], 1)
  array an = via_one_op(argmin(y, 1));
  mfx::test::check_close(an, {1, 2}, {2});  // np.argmin(same, 1)
}

TEST_CASE("one-op kernels are cached per primitive parameters, not just shapes") {
  // sum over axis 0 and over axis 1 of a square matrix have equal signatures.
  array x = mfx::test::iota({3, 3});
  x.eval();  // Arange has no one-op kernel
  array s0 = via_one_op(sum(x, 0));
  array s1 = via_one_op(sum(x, 1));
  mfx::test::check_close(s0, {9, 12, 15}, {3});  // np.arange(9).reshape(3,3).sum(0)
  mfx::test::check_close(s1, {3, 12, 21}, {3});  // np.arange(9).reshape(3,3).sum(1)
  array again = via_one_op(sum(x, 0));
  mfx::test::check_close(again, {9, 12, 15}, {3});
}

TEST_CASE("gathers run as one-op kernels and check their indices") {
  array x = random_array({5, 4}, float32, 400);
  array idx = array({4, 0, -1, 2}, {2, 2}, int32);
  check_same([](auto& in) { return take(in[0], in[1], 0); }, {x, idx}, 0, 0);
  array along = array({3, 0, 1, 2, 2, 1, 0, 3, 1, 1}, {5, 2}, int32);
  check_same([](auto& in) { return take_along_axis(in[0], in[1], 1); }, {x, along}, 0, 0);
  // A constant pad is a bounds test around a load in the same kernel.
  check_same([](auto& in) { return pad(in[0], {{1, 2}, {0, 3}}, array(-1.5f)); }, {x}, 0, 0);
  array bad = array({1, 5}, {2}, int32);
  check_throws_with([&] { via_one_op(take(x, bad, 0)); }, {"index 5", "size 5"});
  // A concatenation (of a transposed view, an empty and a float64 operand
  // cast down) is one kernel selecting between shifted loads.
  array y = random_array({2, 4}, float32, 401), e = random_array({0, 4}, float32, 402);
  check_same(
      [](auto& in) {
        return concatenate({transpose(in[0], {1, 0}), in[2], in[1]}, 0);
      },
      {random_array({4, 5}, float32, 403), y, e}, 0, 0);
  check_same([](auto& in) { return concatenate({in[0], in[0] * 2.0f}, 1); }, {x}, 0, 0);
}

TEST_CASE("views are materialised by the strided copy kernel") {
  uint32_t seed = 500;
  for (Dtype dt : {float32, float16, bfloat16, float64, int32, int64, uint8, bool_}) {
    INFO(dtype_name(dt));
    array base = astype(random_array({4, 6, 5}, float32, seed++, -50, 50), dt);
    std::vector<array> views = {transpose(base, {2, 0, 1}),
                                slice(base, {3, 5, 0}, {-5, -7, 5}, {-1, -2, 2}),
                                broadcast_to(slice(base, {0, 0, 0}, {1, 6, 5}), {3, 6, 5}),
                                slice(base, {0, 0, 0}, {4, 6, 5}, {2, 3, 1})};
    for (auto& v : views) {
      v.eval();
      REQUIRE_FALSE(v.flags().row_contiguous);
      array d = gpu_detail::dense_copy(v, compiler::Target::Cpu);
      CHECK(d.flags().row_contiguous);
      CHECK(d.shape() == v.shape());
      CHECK(mfx::test::values(d) == mfx::test::values(v));
    }
  }
}

TEST_CASE("conv2d through the GPU path (im2col view + matmul) equals eager CPU") {
  // Strides, padding, dilation, groups; and the derivatives (their own
  // primitives, Conv2dInputGrad and Conv2dWeightGrad, with their own routes).
  struct Conv {
    Shape x, w;
    std::pair<int64_t, int64_t> stride, padding, dilation;
    int groups;
  };
  uint32_t seed = 900;
  for (const Conv& c : {Conv{{2, 3, 9, 8}, {4, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
                        Conv{{1, 4, 11, 7}, {6, 2, 3, 2}, {2, 1}, {0, 2}, {1, 2}, 2},
                        Conv{{2, 2, 6, 6}, {2, 2, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1},
                        Conv{{1, 3, 8, 8}, {5, 3, 3, 3}, {2, 2}, {3, 1}, {2, 1}, 1},
                        // Padding beyond the dilated kernel: border outputs see only padding.
                        Conv{{2, 2, 7, 6}, {3, 2, 1, 2}, {2, 3}, {1, 2}, {1, 1}, 1}}) {
    INFO("x " << shape_str(c.x) << " w " << shape_str(c.w) << " groups " << c.groups);
    array x = random_array(c.x, float32, seed++), w = random_array(c.w, float32, seed++);
    auto f = [&](const std::vector<array>& in) {
      return conv2d(in[0], in[1], c.stride, c.padding, c.dilation, c.groups);
    };
    check_same(f, {x, w}, 1e-5, 1e-5);
    array ct = f({x, w});
    ct = random_array(ct.shape(), float32, seed++);
    for (int arg : {0, 1}) {
      check_same(
          [&](const std::vector<array>& in) {
            return vjp([&](const std::vector<array>& p) { return std::vector<array>{f(p)}; },
                       {in[0], in[1]}, std::vector<array>{in[2]})
                .second[arg];
          },
          {x, w, ct}, 1e-4, 1e-4);
    }
  }
}

TEST_CASE("primitives with a host fallback take the round trip on the CPU target, others do not") {
  array x = random_array({3, 4}, float32, 610);
  array idx = array({0, 2, 1, 0, 2, 2, 0, 1}, {2, 4}, int32);
  array upd = random_array({2, 4}, float32, 611);
  using Fn = std::function<array(const std::vector<array>&)>;
  for (const Fn& f : std::vector<Fn>{
           [](auto& in) { return cumsum(in[0], 0); }, [](auto&) { return arange(5, int32); },
           [](auto&) { return random::uniform(random::key(1), {3}); },
           [](auto& in) { return scatter_add(in[0], in[1], in[2], 0); }}) {
    array y = f({x, idx, upd});
    CHECK(gpu_detail::runs_on_host(y.primitive()));
    check_same(f, {x, idx, upd}, 0, 0);
  }
  for (array y : {exp(x), matmul(x, transpose(x, {1, 0})), sum(x, 0)}) {
    CHECK_FALSE(gpu_detail::runs_on_host(y.primitive()));
  }
}

TEST_CASE("primitives without a generated kernel say so") {
  array x = random_array({3, 4}, float32, 600);
  for (array y : {cumsum(x, 0), matmul(x, transpose(x, {1, 0}))}) {
    std::vector<array> ins = y.inputs();
    for (auto& in : ins) in.eval();
    std::vector<array> outs = y.outputs();
    CHECK_FALSE(gpu_detail::has_one_op_kernel(y.primitive(), ins, outs));
    const std::string name = y.primitive().name();
    try {
      gpu_detail::eval_one_op(y.primitive(), ins, outs, compiler::Target::Cpu, Device::cpu());
      FAIL("expected an error for " << name);
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()) == "[" + name + "] has no GPU kernel yet");
    }
  }
}

TEST_CASE("device placement on a machine without a GPU") {
  array x = array({1.0f, 2.0f, 3.0f});
  CHECK(x.device() == Device::cpu());
  CHECK(exp(x).device() == Device::cpu());
  CHECK(to_device(x, Device::cpu()).id() == x.id());
  CHECK_FALSE(gpu::allow_tf32());
  if (gpu::is_available()) return;
  CHECK_FALSE(gpu::unavailable_reason().empty());
  for (auto f : std::vector<std::function<void()>>{[&] { to_device(x, Device::gpu()); },
                                                   [] { set_default_device(Device::gpu()); },
                                                   [] { gpu::memory_stats(); }}) {
    try {
      f();
      FAIL("expected a no-GPU error");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("no GPU") != std::string::npos);
    }
  }
  CHECK(default_device() == Device::cpu());
}

TEST_CASE("one-op kernels compile to PTX that ptxas assembles for sm_80 and sm_90") {
  if (!std::filesystem::exists("/usr/local/cuda/bin/ptxas") && !std::getenv("CUDA_HOME")) {
    WARN("no CUDA toolkit: PTX checks skipped");
    return;
  }
  array f = random_array({6, 40}, float32, 700);
  array h = astype(f, float16);
  array bf = astype(f, bfloat16);
  array d = astype(f, float64);
  std::vector<std::pair<const char*, array>> ops = {
      {"exp f16", exp(h)},
      {"tanh bf16", tanh(bf)},
      {"add broadcast", add(f, random_array({40}, float32, 701))},
      {"where", where(greater(f, array(0.0f)), f, array(1.0f))},
      {"astype bf16", astype(f, bfloat16)},
      {"sum rows f16", sum(h, 1, true)},
      {"sum all f32", sum(f, std::vector<int>{0, 1}, true)},
      {"max cols f32", max(f, 0, true)},
      {"any bool", any(greater(f, array(1.0f)), 1, true)},
      {"take", take(f, array({5, 0, -1}, {3}, int32), 0)},
      {"argmax f16", argmax(h, 1)},
      {"transpose copy", transpose(bf, {1, 0})},
      // float64 (libdevice's double functions, 64-bit warp shuffles).
      {"log f64", log(d)},
      {"sum rows f64", sum(d, 1, true)},
      {"max all f64", max(d, std::vector<int>{0, 1}, true)},
      // A concatenation is a select between shifted loads.
      {"concatenate", concatenate({f, astype(h, float32), f}, 1)}};
  for (auto& [what, y] : ops) {
    INFO(what);
    std::vector<array> ins = y.inputs();
    std::vector<array> outs = y.outputs();
    auto k = gpu_detail::build_one_op_kernel(y.primitive_ptr(), ins, outs);
    REQUIRE(k.has_value());
    std::vector<compiler::Kernel> kernels = {
        k->kernel, gpu_detail::strided_copy_kernel(bfloat16, {40, 6}, {1, 40})};
    for (auto& kernel : kernels) {
      for (auto t : {compiler::Target::Sm80, compiler::Target::Sm90}) {
        compiler::PtxKernel ptx = compiler::compile_ptx(kernel, t, {});
        compiler::PtxasInfo info = compiler::run_ptxas(ptx.ptx, t);
        CHECK(info.registers > 0);
        CHECK(info.spill_bytes == 0);
      }
    }
  }
}

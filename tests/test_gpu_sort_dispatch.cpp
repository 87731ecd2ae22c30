// The eager GPU dispatch of Sort, ArgSort and TopK (compiler/gpu/sort.cpp)
// on the CPU target: the sorted axis is moved last by the copy kernel, the
// rows are sorted by the primitive's CPU kernel along the last axis, and the
// outputs come back as views in the original axis order. Everything but the
// CUDA launch is checked here against eager CPU evaluation; tests/gpu_sort.cpp
// runs the kernels on a GPU.
#include <cmath>
#include <limits>
#include <random>

#include "compiler/gpu/dispatch.h"
#include "compiler/gpu/one_op.h"
#include "compiler/gpu/sort.h"
#include "test_utils.h"

using namespace mfx;

namespace {

// Values in [-3, 3] with ties, and a NaN every 7th element for floats.
array random_ties(Shape shape, Dtype dtype, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(-3, 3);
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = dist(gen);
    if (is_floating(dtype) && i % 7 == 3) v[i] = std::numeric_limits<double>::quiet_NaN();
  }
  return array(v, shape, dtype);
}

// y's graph evaluated node by node the way eager GPU ops run, on the CPU
// target (as in test_gpu_one_op_kernels).
array via_gpu_path(const array& y) {
  if (y.is_evaluated()) return y;
  std::vector<array> ins = y.inputs();
  for (auto& in : ins) via_gpu_path(in);
  std::vector<array> outs = y.outputs();
  gpu_detail::evaluate(y.primitive(), ins, outs, compiler::Target::Cpu, Device::cpu());
  return y;
}

// Element-wise equality with NaN equal to NaN (the value order is exact).
void check_equal(const array& got, const array& want) {
  REQUIRE(got.shape() == want.shape());
  REQUIRE(got.dtype() == want.dtype());
  auto g = got.to_vector<double>();
  auto w = want.to_vector<double>();
  for (size_t i = 0; i < w.size(); ++i) {
    INFO("element " << i << ": " << g[i] << " vs " << w[i]);
    CHECK(((std::isnan(g[i]) && std::isnan(w[i])) || g[i] == w[i]));
  }
}

}  // namespace

TEST_CASE("sort, argsort and topk through the GPU dispatch equal the CPU kernels") {
  uint32_t seed = 1;
  for (Dtype dt : {float32, float64, int32, int64, float16, uint8}) {
    for (Shape shape : {Shape{7}, Shape{4, 9}, Shape{3, 5, 6}}) {
      array x = random_ties(shape, dt, seed++);
      for (int axis = 0; axis < static_cast<int>(shape.size()); ++axis) {
        INFO(dtype_name(dt) << " " << shape_str(shape) << " axis " << axis);
        check_equal(via_gpu_path(sort(x, axis)), sort(x, axis));
        check_equal(via_gpu_path(argsort(x, axis)), argsort(x, axis));
        for (int64_t k : {int64_t{1}, shape[axis] / 2, shape[axis]}) {
          auto [gv, gi] = topk(x, k, axis);
          auto [wv, wi] = topk(x, k, axis);
          via_gpu_path(gv);
          CHECK(gi.is_evaluated());  // both outputs of one evaluation
          check_equal(gv, wv);
          check_equal(gi, wi);
        }
      }
    }
  }
}

TEST_CASE("GPU dispatch of sort on non-contiguous inputs") {
  // float64 views are copied as int64 bits.
  const Dtype dt = GENERATE(float32, float64, int32);
  array x = random_ties({6, 8}, dt, 77);
  // Transposed, sliced with a negative step, and broadcast inputs.
  array t = via_gpu_path(transpose(x));
  array r = via_gpu_path(slice(x, {5, 7}, {-7, -9}, {-1, -2}));
  array b = via_gpu_path(broadcast_to(slice(x, {0, 0}, {1, 8}), {3, 8}));
  for (const array& v : {t, r, b}) {
    INFO(dtype_name(dt) << " view of shape " << shape_str(v.shape()));
    REQUIRE_FALSE(v.flags().row_contiguous);
    for (int axis : {0, 1}) {
      check_equal(via_gpu_path(sort(v, axis)), sort(v, axis));
      check_equal(via_gpu_path(argsort(v, axis)), argsort(v, axis));
      check_equal(via_gpu_path(topk(v, 2, axis).second), topk(v, 2, axis).second);
    }
  }
}

TEST_CASE("GPU dispatch of sort: outputs of an inner axis are views in the input's axis order") {
  // np.sort([[3, 1], [2, 5], [1, 4]], axis=0) = [[1, 1], [2, 4], [3, 5]]
  array x = array({3.0f, 1.0f, 2.0f, 5.0f, 1.0f, 4.0f}, {3, 2});
  array s = via_gpu_path(sort(x, 0));
  CHECK_FALSE(s.flags().row_contiguous);
  CHECK(mfx::test::values(s) == std::vector<double>{1, 1, 2, 4, 3, 5});
  // np.argsort(..., axis=0, kind="stable") = [[2, 0], [1, 2], [0, 1]]
  array a = via_gpu_path(argsort(x, 0));
  CHECK(mfx::test::values(a) == std::vector<double>{2, 0, 1, 2, 0, 1});
  // The last axis sorts in place into the row-major output.
  array last = via_gpu_path(sort(x, 1));
  CHECK(last.flags().row_contiguous);
  CHECK(mfx::test::values(last) == std::vector<double>{1, 3, 2, 5, 1, 4});
  // A later op reads the view like any other array.
  CHECK(mfx::test::values(via_gpu_path(s + 1.0f)) == std::vector<double>{2, 2, 3, 5, 4, 6});
}

TEST_CASE("GPU dispatch of sort leaves other primitives alone") {
  array x = random_ties({3, 4}, float32, 5);
  array y = exp(x);
  std::vector<array> ins = y.inputs();
  for (auto& in : ins) in.eval();
  std::vector<array> outs = y.outputs();
  CHECK_FALSE(
      gpu_detail::eval_sort(y.primitive(), ins, outs, compiler::Target::Cpu, Device::cpu()));
  CHECK_FALSE(y.is_evaluated());
}

// Golden plans: small graphs planned as a jitted CPU program (and one as a
// GPU program), rendered by plan_text and compared to the expected grouping
// and reason codes, so a change in grouping shows as a readable diff. The
// shapes stay far below the planner's thread-count thresholds, so the text
// does not depend on the machine. Kernel counts of bigger programs are
// tested in test_jit_fusion.cpp and test_jit_block_fusion.cpp.
#include <catch2/catch.hpp>

#include "compiler/jit/plan.h"
#include "mfx/jit.h"
#include "mfx/mfx.h"

using namespace mfx;

namespace {

std::string planned(const ArrayFn& f, const std::vector<Shape>& shapes,
                    const std::vector<Dtype>& dtypes, const std::string& name,
                    jit_detail::PlanTarget target = jit_detail::PlanTarget::CpuProgram) {
  jit_detail::SimplifyStats stats;
  auto g = jit_detail::simplify(jit_detail::trace(f, shapes, dtypes, name), &stats);
  JitOptions options{.name = name, .plan_for_gpu = target == jit_detail::PlanTarget::GpuProgram};
  return jit_detail::plan_text(jit_detail::make_plan(g, options, target));
}

ArrayFn one(std::function<array(const std::vector<array>&)> f) {
  return [f](const std::vector<array>& a) { return std::vector<array>{f(a)}; };
}

}  // namespace

TEST_CASE("golden plan: softmax is one kernel") {
  CHECK(planned(one([](auto& a) { return softmax(a[0], -1); }), {{4, 8}}, {float32}, "softmax") ==
        R"(fused softmax_k0 [Max Broadcast Subtract Exp Sum Broadcast Divide] v0 -> v7 float32(4,8)
stored v7 float32(4,8): GRAPH_OUTPUT
)");
}

TEST_CASE("golden plan: a matmul stays a library call, its elementwise consumer a kernel") {
  CHECK(planned(one([](auto& a) { return relu(matmul(a[0], a[1]) + 1.0f); }), {{4, 6}, {6, 8}},
                {float32, float32}, "mm_relu") ==
        R"(primitive Matmul [Matmul] v0 v1 -> v2 float32(4,8): OPAQUE_OP
fused mm_relu_k0 [Add Maximum] v2 v7 v8 -> v6 float32(4,8)
stored v6 float32(4,8): GRAPH_OUTPUT
)");
}

TEST_CASE("golden plan: a kernel feeding a matmul stores its result for it") {
  CHECK(
      planned(one([](auto& a) { return matmul(softmax(a[0], -1), a[1]); }), {{4, 6}, {6, 8}},
              {float32, float32}, "softmax_mm") ==
      R"(fused softmax_mm_k0 [Max Broadcast Subtract Exp Sum Broadcast Divide] v0 -> v8 float32(4,6)
primitive Matmul [Matmul] v8 v1 -> v9 float32(4,8): OPAQUE_OP
stored v8 float32(4,6): OPAQUE_CONSUMER
)");
}

TEST_CASE("golden plan: a reduction feeding a broadcast stays in its kernel") {
  CHECK(planned(one([](auto& a) { return a[0] - mean(a[0], 1, true); }), {{4, 8}}, {float32},
                "centre") ==
        R"(fused centre_k0 [Sum Divide Broadcast Subtract] v0 v6 -> v5 float32(4,8)
stored v5 float32(4,8): GRAPH_OUTPUT
)");
}

TEST_CASE("golden plan: take_along_axis becomes an indexed load of its kernel") {
  // The gather is read through (v1 indices, v0 data): no step of its own.
  CHECK(planned(one([](auto& a) { return take_along_axis(a[0], a[1], 1) * 2.0f; }),
                {{4, 8}, {4, 3}}, {float32, int32}, "gather") ==
        R"(fused gather_k0 [Multiply] v0 v1 v5 -> v4 float32(4,3)
stored v4 float32(4,3): GRAPH_OUTPUT
)");
}

TEST_CASE("golden plan: a GPU program turns a small matmul into a fused reduction") {
  CHECK(planned(one([](auto& a) { return relu(matmul(a[0], a[1]) + 1.0f); }), {{4, 6}, {6, 8}},
                {float32, float32}, "mm_relu_gpu", jit_detail::PlanTarget::GpuProgram) ==
        R"(fused mm_relu_gpu_k0 [Multiply Sum Reshape Add Maximum] v0 v1 v7 v8 -> v6 float32(4,8)
stored v6 float32(4,8): GRAPH_OUTPUT
)");
}

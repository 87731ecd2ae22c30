// The GPU dispatch's routes by primitive type (compiler/gpu/dispatch.h): the
// families' registrations, the generated one-op kernel as the default, and
// one route per type.
#include "compiler/gpu/dispatch.h"
#include "compiler/gpu/host_steps.h"
#include "mfx/random.h"
#include "primitives/elementwise.h"
#include "test_utils.h"
#include "transforms/trace.h"

using namespace mfx;

TEST_CASE("each primitive type has the GPU route its family registers") {
  array x = array({3.0f, 1.0f, 2.0f, 0.0f}, {2, 2});
  CHECK(gpu_detail::gpu_route(transpose(x, {1, 0}).primitive()) == "view: no data touched");
  CHECK(gpu_detail::gpu_route(transforms::trace_input(x).primitive()) == "view: no data touched");
  CHECK(gpu_detail::gpu_route(matmul(x, x).primitive()) == "library call: cuBLAS");
  CHECK(gpu_detail::gpu_route(sort(x, 1).primitive()) == "sort kernels (cuda/sort.h)");
  CHECK(gpu_detail::gpu_route(argsort(x, 0).primitive()) == "sort kernels (cuda/sort.h)");
  CHECK(gpu_detail::gpu_route(cumsum(x, 0).primitive()) ==
        "scan kernel (cuda/scan.h), else host round trip");
  CHECK(gpu_detail::gpu_route(arange(4, int32).primitive()) == "host round trip");
}

TEST_CASE("types without a registration run the generated one-op kernel") {
  array x = array({3.0f, 1.0f, 2.0f, 0.0f}, {2, 2});
  // softmax is exp, max, sum and divide: none of them registers a route.
  array s = softmax(x, -1);
  for (const array& y : {exp(x), sum(x, 0, true), s, max(x, 1, true)}) {
    CHECK(gpu_detail::gpu_route(y.primitive()) == "generated one-op kernel");
    CHECK_FALSE(gpu_detail::runs_on_host(y.primitive()));
  }
}

TEST_CASE("a primitive type has one GPU route") {
  gpu_detail::GpuKernelRegistry registry;
  auto decline = [](Primitive&, const std::vector<array>&, std::vector<array>&, compiler::Target,
                    Device) { return false; };
  registry.add<Unary>(decline, "declines");
  REQUIRE(registry.find(typeid(Unary)) != nullptr);
  CHECK(registry.find(typeid(Unary))->route == "declines");
  CHECK(registry.find(typeid(Binary)) == nullptr);
  CHECK_THROWS_AS(registry.add<Unary>(decline, "again"), std::logic_error);
}

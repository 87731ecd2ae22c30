// The CPU emitter's loop order for map phases (compiler/kernel_access.h):
// the axis along which loads and stores are unit-stride runs innermost, and
// the values are the same whatever the order.
#include <cstring>

#include "compiler/codegen.h"
#include "compiler/kernel_access.h"
#include "compiler/kernel_builder.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::compiler;

namespace {

// out[b, m, n] = exp(x[b, n, m]) + y[b, n, label[b, m]] over grid [B] and
// domain (N, M): a phase over the transposed orientation that stores its
// result in [B, M, N] (the match-free loss's classification costs, gathered
// from per-query logits, have this shape). `outputs` copies of the store.
Kernel transposed_store_kernel(int64_t B, int64_t N, int64_t M, int64_t K, int outputs) {
  Kernel k{"transposed_store",
           {{float32, B * N * M}, {float32, B * N * K}, {int32, B * M}},
           {B},
           {},
           {}};
  for (int o = 0; o < outputs; ++o) k.args.push_back({float32, B * M * N, true});
  Phase p;
  p.domain = {N, M};
  PhaseBuilder b(p);
  const int g = b.grid_index(0), n = b.domain_index(0), m = b.domain_index(1);
  const int x = b.load(0, float32, b.linear_index({g, n, m}, {N * M, M, 1}));
  const int label = b.cast(b.load(2, int32, b.linear_index({g, m}, {M, 1})), int64);
  const int y = b.load(1, float32, b.add(b.linear_index({g, n}, {N * K, K}), label));
  const int v = b.binary(BinaryOp::Add, b.unary(UnaryOp::Exp, x), y);
  for (int o = 0; o < outputs; ++o) b.store(3 + o, b.linear_index({g, m, n}, {M * N, N, 1}), v);
  k.phases.push_back(p);
  return k;
}

}  // namespace

TEST_CASE("map_inner_axis picks the axis its accesses move along by one", "[codegen]") {
  // Three stores along n against one load along m and a gather along
  // neither: n (axis 0) innermost.
  Kernel k = transposed_store_kernel(2, 40, 24, 7, 3);
  CHECK(map_inner_axis(k, k.phases[0]) == 0);
  // One store along n, one load along m, the gather along neither: a tie
  // keeps the last axis.
  Kernel tie = transposed_store_kernel(2, 40, 24, 7, 1);
  CHECK(map_inner_axis(tie, tie.phases[0]) == 1);
  // An axis shorter than 16 points never runs innermost.
  Kernel narrow = transposed_store_kernel(2, 12, 24, 7, 3);
  CHECK(map_inner_axis(narrow, narrow.phases[0]) == 1);
  // Materialisations into a local (row-major over the domain) count for
  // the last axis: four of them outweigh the three stores.
  Kernel local = transposed_store_kernel(2, 40, 24, 7, 3);
  local.locals.push_back({float32, {40, 24}});
  for (int i = 0; i < 4; ++i) local.phases[0].materializations.push_back({0, 0});
  CHECK(map_inner_axis(local, local.phases[0]) == 1);
  // Reduce phases keep their order.
  Phase red = k.phases[0];
  red.kind = PhaseKind::Reduce;
  CHECK(map_inner_axis(k, red) == 1);
}

TEST_CASE("a map phase run with its first axis innermost computes the same values", "[codegen]") {
  const int64_t B = 3, N = 40, M = 24, K = 7;
  Kernel k = transposed_store_kernel(B, N, M, K, 3);
  REQUIRE(map_inner_axis(k, k.phases[0]) == 0);
  array x = random::normal(random::key(1), {B, N, M});
  array y = random::normal(random::key(2), {B, N, K});
  array label = random::randint(random::key(3), 0, K, {B, M}, int32);
  auto ck = compile_cpu(k, {});
  std::vector<std::vector<float>> outs(3, std::vector<float>(B * M * N, -1.0f));
  x.eval(), y.eval(), label.eval();
  std::vector<void*> ptrs{const_cast<void*>(x.raw_data()), const_cast<void*>(y.raw_data()),
                          const_cast<void*>(label.raw_data())};
  for (auto& o : outs) ptrs.push_back(o.data());
  ck->run(ptrs.data(), 0, B);
  // want[b, m, n] = exp(x[b, n, m]) + y[b, n, label[b, m]]
  array picked = take_along_axis(y, broadcast_to(expand_dims(label, 1), {B, N, M}), 2);
  array want = transpose(exp(x) + picked, {0, 2, 1});
  auto w = want.to_vector<float>();
  for (const auto& o : outs) {
    for (size_t i = 0; i < w.size(); ++i) {
      INFO("element " << i);
      REQUIRE(std::abs(o[i] - w[i]) <= 1e-6f * (1.0f + std::abs(w[i])));
    }
  }
}

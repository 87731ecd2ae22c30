// Hand-written Kernel IR samples shared by the code generation, kernel cache
// and GPU tests.
#pragma once

#include <vector>

#include "compiler/kernel_builder.h"

namespace mfx::test {

/// Two phases over row g = grid index 0 of x [., n] (float32, arg `in`):
/// Reduce local[`local`] = max_i x[g, i], then Map y[g, i] = x[g, i] - that
/// max, stored to arg `out`.
inline std::vector<compiler::Phase> row_max_phases(int in, int out, int local, int64_t n) {
  using namespace compiler;
  Phase red;
  red.kind = PhaseKind::Reduce;
  red.domain = {n};
  red.reduced_axes = {0};
  PhaseBuilder b(red);
  const int at = b.add(b.mul(b.grid_index(0), b.index(n)), b.domain_index(0));
  b.reduce(ReduceOp::Max, local, b.load(in, float32, at));
  Phase map;
  map.domain = {n};
  PhaseBuilder m(map);
  const int at2 = m.add(m.mul(m.grid_index(0), m.index(n)), m.domain_index(0));
  m.store(out, at2,
          m.binary(BinaryOp::Subtract, m.load(in, float32, at2), m.load_local(local, float32, {})));
  return {red, map};
}

/// Row softmax of x [R, C] (float32): grid [R], phases Reduce max /
/// Reduce sum(exp(x - m)) / Map store. Kernel name "row_softmax".
inline compiler::Kernel softmax_kernel(int64_t R, int64_t C) {
  using namespace compiler;
  Kernel k{"row_softmax",
           {{float32, R * C}, {float32, R * C, true}},
           {R},
           {{float32, {1}}, {float32, {1}}},
           {}};
  k.phases.resize(3);
  for (int ph = 0; ph < 3; ++ph) {
    Phase& P = k.phases[ph];
    P.kind = ph < 2 ? PhaseKind::Reduce : PhaseKind::Map;
    P.domain = {C};
    if (ph < 2) P.reduced_axes = {0};
    PhaseBuilder p(P);
    int at = p.linear_index({p.grid_index(0), p.domain_index(0)}, {C, 1});
    int x = p.load(0, float32, at);
    if (ph == 0) {
      p.reduce(ReduceOp::Max, 0, x);
      continue;
    }
    int m = p.load_local(0, float32, {p.index(0)});
    int e = p.unary(UnaryOp::Exp, p.binary(BinaryOp::Subtract, x, m));
    if (ph == 1) {
      p.reduce(ReduceOp::Sum, 1, e);
    } else {
      int s = p.load_local(1, float32, {p.index(0)});
      p.store(1, at, p.binary(BinaryOp::Divide, e, s));
    }
  }
  return k;
}

}  // namespace mfx::test

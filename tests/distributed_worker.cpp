// Run under `mpirun -np 2` by ctest (test "distributed_mpi_np2"): checks the
// collectives across real processes and that one data-parallel SGD step
// equals the single-process step on the concatenated batch. Exit code 0 on
// success; failures print the rank and what differed.
#include <cmath>
#include <cstdio>

#include "mfx/distributed.h"
#include "mfx/mfx.h"

using namespace mfx;

namespace {

int failures = 0;

void expect_close(const array& got, const array& want, const char* what, double tol = 1e-12) {
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  bool ok = got.shape() == want.shape() && g.size() == w.size();
  for (size_t i = 0; ok && i < g.size(); ++i)
    ok = std::abs(g[i] - w[i]) <= tol * (1 + std::abs(w[i]));
  if (!ok) {
    std::fprintf(stderr, "rank %d: %s differs (shape %s vs %s)\n", distributed::rank(), what,
                 shape_str(got.shape()).c_str(), shape_str(want.shape()).c_str());
    ++failures;
  }
}

array full_batch_x() {
  return reshape(astype(arange(24, float64), float64) / 10.0, {8, 3});
}
array full_batch_y() {
  return astype(arange(8, float64), float64) * 0.5 - 1.0;
}

array loss(const Tree& p, const array& x, const array& y) {
  array pred = tanh(matmul(x, p["w"].leaf())) + p["b"].leaf();
  return mean(square(reshape(pred, {-1}) - y));
}

}  // namespace

int main() {
  distributed::init();
  const int r = distributed::rank(), n = distributed::world_size();
  if (n != 2 || distributed::backend() != "mpi") {
    std::fprintf(stderr, "expected 2 MPI processes, got %d (%s)\n", n,
                 distributed::backend().c_str());
    return 1;
  }
  // all_sum over a Tree with mixed dtypes (float64, float32, int32, bool, float16).
  Tree t{{"a", full({2, 2}, static_cast<double>(r + 1), float64)},
         {"b", full({3}, static_cast<float>(10 * (r + 1)), float32)},
         {"c", array({r, 2 * r}, {2}, int32)},
         {"d", array({r == 0, false}, {2}, bool_)},
         {"e", full({2}, 0.5 + r, float16)}};
  Tree s = distributed::all_sum(t);
  expect_close(s["a"].leaf(), full({2, 2}, 3.0, float64), "all_sum float64");
  expect_close(s["b"].leaf(), full({3}, 30.0, float64), "all_sum float32");
  expect_close(s["c"].leaf(), array({1.0, 2.0}), "all_sum int32");
  expect_close(s["d"].leaf(), array({1.0, 0.0}), "all_sum bool (or)");
  expect_close(s["e"].leaf(), array({2.0, 2.0}), "all_sum float16");
  if (s["c"].leaf().dtype() != int32 || s["e"].leaf().dtype() != float16) ++failures;
  expect_close(distributed::all_gather(full({1, 2}, static_cast<double>(r), float64)),
               array({0.0, 0.0, 1.0, 1.0}, {2, 2}), "all_gather");
  expect_close(distributed::broadcast(full({2}, static_cast<double>(r + 7), float64), 1),
               full({2}, 8.0, float64), "broadcast from rank 1");

  // Data parallel: each rank takes half of the batch; the mean of the local
  // gradients equals the gradient on the whole batch.
  Tree params{{"w", reshape(array({0.1, -0.2, 0.3}), {3, 1})}, {"b", array({0.05})}};
  params = distributed::broadcast(params, 0);
  array x = slice_axis(full_batch_x(), 0, 4 * r, 4 * r + 4);
  array y = slice_axis(full_batch_y(), 0, 4 * r, 4 * r + 4);
  Tree g_local = grad(loss)(params, x, y);
  Tree g = distributed::all_mean(g_local);
  Tree g_full = grad(loss)(params, full_batch_x(), full_batch_y());
  expect_close(g["w"].leaf(), g_full["w"].leaf(), "data-parallel gradient w");
  expect_close(g["b"].leaf(), g_full["b"].leaf(), "data-parallel gradient b");
  optim::SGD opt({.lr = optim::constant(0.1)});
  Tree state = opt.init(params);
  auto [p_dp, s_dp] = opt.update(params, g, state);
  auto [p_1, s_1] = opt.update(params, g_full, state);
  expect_close(p_dp["w"].leaf(), p_1["w"].leaf(), "SGD step w");
  // Every rank holds the same parameters afterwards.
  expect_close(distributed::broadcast(p_dp, 0)["w"].leaf(), p_dp["w"].leaf(), "replicas agree");

  // Mismatched shapes are a clear error on every rank, not a hang.
  bool threw = false;
  try {
    distributed::all_sum(zeros({r + 1}, float32));
  } catch (const std::invalid_argument& e) {
    threw = std::string(e.what()).find("[all_sum]") != std::string::npos;
  }
  if (!threw) {
    std::fprintf(stderr, "rank %d: mismatched all_sum did not throw\n", r);
    ++failures;
  }
  distributed::barrier();
  if (r == 0) std::printf("distributed_worker: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}

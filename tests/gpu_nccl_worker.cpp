// Run under `mpirun -np 2` by ctest ("gpu_nccl_np2", label gpu): NCCL
// collectives on GPU arrays, one GPU per process (rank r on gpu:r), against
// the same collectives on host arrays over MPI. Exits 77 (skipped) with
// fewer than two GPUs or without NCCL.
#include <cmath>
#include <cstdio>

#include "mfx/distributed.h"
#include "mfx/gpu.h"
#include "mfx/mfx.h"

using namespace mfx;

namespace {

int failures = 0;

void expect_equal(const array& got, const array& want, const char* what) {
  auto g = to_device(got, Device::cpu()).to_vector<double>();
  auto w = want.to_vector<double>();
  bool ok = got.shape() == want.shape() && g.size() == w.size();
  for (size_t i = 0; ok && i < g.size(); ++i)
    ok = std::abs(g[i] - w[i]) <= 1e-6 * (1 + std::abs(w[i]));
  if (!ok) {
    std::fprintf(stderr, "rank %d: %s differs\n", distributed::rank(), what);
    ++failures;
  }
}

}  // namespace

int main() {
  distributed::init();
  const int rank = distributed::rank();
  if (gpu::device_count() < 2 || distributed::world_size() != 2) {
    if (rank == 0)
      std::printf("skipped: needs 2 processes on 2 GPUs (%d GPU(s))\n", gpu::device_count());
    return 77;
  }
  const Device gpu = Device::gpu(rank);
  array x = reshape(astype(arange(12, float32), float32) * static_cast<float>(rank + 1), {3, 4});
  array flags = array({rank == 0, false, rank == 1}, Shape{3}, bool_);
  expect_equal(distributed::all_sum(to_device(x, gpu)), distributed::all_sum(x), "all_sum");
  expect_equal(distributed::all_sum(to_device(flags, gpu)), distributed::all_sum(flags),
               "all_sum bool");
  expect_equal(distributed::all_gather(to_device(x, gpu)), distributed::all_gather(x),
               "all_gather");
  expect_equal(distributed::broadcast(to_device(x, gpu), 1), distributed::broadcast(x, 1),
               "broadcast");
  Tree t{{"w", x}, {"b", astype(arange(3, float64), float64)}};
  Tree tg = t.map([&](const array& a) { return to_device(a, gpu); });
  Tree s = distributed::all_sum(tg), want = distributed::all_sum(t);
  expect_equal(s["w"].leaf(), want["w"].leaf(), "tree all_sum w");
  expect_equal(s["b"].leaf(), want["b"].leaf(), "tree all_sum b");
  distributed::finalize();
  if (rank == 0) std::printf("%s\n", failures ? "gpu_nccl: FAILED" : "gpu_nccl: all passed");
  return failures ? 1 : 0;
}

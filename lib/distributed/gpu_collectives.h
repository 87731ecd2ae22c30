// mfx::distributed collectives on GPU arrays (internal): NCCL on the
// arrays' device buffers, the communicator set up through the host
// transport (rank 0's NCCL id broadcast over MPI).
#pragma once

#include "mfx/array.h"

namespace mfx::distributed::detail {

/// Where the collective of `x` runs: on its GPU when it lives (or will be
/// computed) there.
inline bool on_gpu(const array& x) {
  return x.device().type == Device::Type::gpu;
}

array gpu_all_sum(const array& x);
array gpu_all_gather(const array& x);
array gpu_broadcast(const array& x, int root);

}  // namespace mfx::distributed::detail

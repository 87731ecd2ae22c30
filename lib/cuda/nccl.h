// NCCL, loaded with dlopen("libnccl.so.2") like the driver (internal): the
// collectives mfx::distributed runs on GPU arrays, one communicator per
// process on its current GPU. The ABI pieces used are declared here (values
// as in NCCL 2's nccl.h), so the library builds without NCCL installed.
#pragma once

#include <cstddef>
#include <string>

#include "cuda/driver.h"
#include "mfx/dtype.h"

namespace mfx::cuda {

/// True when libnccl.so.2 can be loaded; otherwise `why` says why.
bool nccl_available(std::string* why = nullptr);

/// One communicator of `size` ranks for this process (`rank`) on GPU
/// `device`, made at the first call: rank 0's unique id reaches the others
/// through `share_id(bytes, 128)` (a host broadcast from rank 0, e.g. MPI).
/// Later calls return it; it lives until the process ends.
void* nccl_communicator(int rank, int size, int device,
                        void (*share_id)(void* bytes, size_t count));

/// In-place-capable collectives on device buffers, queued on `stream`.
/// Sums are logical or for bool (a max over bytes). Errors throw
/// std::runtime_error naming the call, NCCL's message and the sizes.
void nccl_all_reduce_sum(void* comm, const void* send, void* recv, size_t count, Dtype dtype,
                         CUstream stream);
void nccl_all_gather(void* comm, const void* send, void* recv, size_t count, Dtype dtype,
                     CUstream stream);
void nccl_broadcast(void* comm, const void* send, void* recv, size_t count, Dtype dtype, int root,
                    CUstream stream);

}  // namespace mfx::cuda

// NCCL collectives for GPU arrays (see gpu_collectives.h).
#include "distributed/gpu_collectives.h"

#include "cuda/nccl.h"
#include "cuda/runtime.h"
#include "distributed/transport.h"
#include "mfx/ops.h"

namespace mfx::distributed::detail {

namespace {

void share_id(void* bytes, size_t count) {
  transport::broadcast(bytes, count, 0);
}

void* communicator(Device device) {
  return cuda::nccl_communicator(transport::rank(), transport::size(), device.index, &share_id);
}

// x as one row-major buffer on its device (a copy kernel for strided views).
array dense(const array& x) {
  array c = reshape(x, {x.size()});
  c.eval();
  return c;
}

}  // namespace

array gpu_all_sum(const array& x) {
  const Device d = x.device();
  void* comm = communicator(d);
  array in = dense(x);
  array out = array::empty(x.shape(), x.dtype(), d);
  cuda::nccl_all_reduce_sum(comm, in.raw_data(), out.raw_data(), static_cast<size_t>(x.size()),
                            x.dtype(), cuda::current_stream(d.index));
  return out;
}

array gpu_all_gather(const array& x) {
  const Device d = x.device();
  void* comm = communicator(d);
  array in = dense(x);
  Shape shape = x.shape();
  shape[0] *= transport::size();
  array out = array::empty(shape, x.dtype(), d);
  cuda::nccl_all_gather(comm, in.raw_data(), out.raw_data(), static_cast<size_t>(x.size()),
                        x.dtype(), cuda::current_stream(d.index));
  return out;
}

array gpu_broadcast(const array& x, int root) {
  const Device d = x.device();
  void* comm = communicator(d);
  array in = dense(x);
  array out = array::empty(x.shape(), x.dtype(), d);
  cuda::nccl_broadcast(comm, in.raw_data(), out.raw_data(), static_cast<size_t>(x.size()),
                       x.dtype(), root, cuda::current_stream(d.index));
  return out;
}

}  // namespace mfx::distributed::detail

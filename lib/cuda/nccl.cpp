// dlopen'ed NCCL (see nccl.h).
#include "cuda/nccl.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstring>
#include <mutex>
#include <stdexcept>

#include "cuda/dl_bind.h"
#include "cuda/runtime.h"

namespace mfx::cuda {

namespace {

// nccl.h: ncclUniqueId is 128 bytes; enums are ints; results 0 = success.
struct UniqueId {
  char internal[128];
};
using Comm = void*;
enum : int { kNcclInt8 = 0, kNcclUint8 = 1, kNcclInt32 = 2, kNcclInt64 = 4, kNcclFloat16 = 6 };
enum : int { kNcclFloat32 = 7, kNcclFloat64 = 8, kNcclBfloat16 = 9 };
enum : int { kNcclSum = 0, kNcclMax = 2 };

struct Nccl {
  void* lib = nullptr;
  std::string error;
  int (*GetUniqueId)(UniqueId*) = nullptr;
  int (*CommInitRank)(Comm*, int, UniqueId, int) = nullptr;
  int (*AllReduce)(const void*, void*, size_t, int, int, Comm, CUstream) = nullptr;
  int (*AllGather)(const void*, void*, size_t, int, Comm, CUstream) = nullptr;
  int (*Broadcast)(const void*, void*, size_t, int, int, Comm, CUstream) = nullptr;
  const char* (*GetErrorString)(int) = nullptr;
};

const Nccl& nccl() {
  static Nccl n = [] {
    Nccl r;
    r.lib = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!r.lib) {
      r.error = fmt::format("dlopen libnccl.so.2: {}", dlerror());
      return r;
    }
    std::string missing;
    bind_symbol(r.lib, r.GetUniqueId, "ncclGetUniqueId", missing);
    bind_symbol(r.lib, r.CommInitRank, "ncclCommInitRank", missing);
    bind_symbol(r.lib, r.AllReduce, "ncclAllReduce", missing);
    bind_symbol(r.lib, r.AllGather, "ncclAllGather", missing);
    bind_symbol(r.lib, r.Broadcast, "ncclBroadcast", missing);
    bind_symbol(r.lib, r.GetErrorString, "ncclGetErrorString", missing);
    if (!missing.empty()) r.error = "libnccl.so.2 lacks " + missing;
    return r;
  }();
  return n;
}

const Nccl& loaded() {
  const Nccl& n = nccl();
  if (!n.error.empty()) throw std::runtime_error("[distributed] NCCL unavailable: " + n.error);
  return n;
}

void check_nccl(int result, const char* call, const std::string& what) {
  if (result == 0) return;
  throw std::runtime_error(
      fmt::format("[distributed] {} failed: {} ({})", call, loaded().GetErrorString(result), what));
}

// NCCL element type and reduction of a dtype (bool sums are a byte max).
std::pair<int, int> wire(Dtype dtype) {
  switch (dtype) {
    case bool_:
      return {kNcclUint8, kNcclMax};
    case uint8:
      return {kNcclUint8, kNcclSum};
    case int32:
      return {kNcclInt32, kNcclSum};
    case int64:
      return {kNcclInt64, kNcclSum};
    case float16:
      return {kNcclFloat16, kNcclSum};
    case bfloat16:
      return {kNcclBfloat16, kNcclSum};
    case float32:
      return {kNcclFloat32, kNcclSum};
    case float64:
      return {kNcclFloat64, kNcclSum};
  }
  throw std::invalid_argument(fmt::format("[distributed] no NCCL type for {}", dtype_name(dtype)));
}

}  // namespace

bool nccl_available(std::string* why) {
  const Nccl& n = nccl();
  if (why) *why = n.error;
  return n.error.empty();
}

void* nccl_communicator(int rank, int size, int device,
                        void (*share_id)(void* bytes, size_t count)) {
  static std::mutex mutex;
  static Comm comm = nullptr;
  static int comm_device = -1;
  std::lock_guard<std::mutex> lock(mutex);
  if (comm) {
    if (comm_device != device) {
      throw std::invalid_argument(fmt::format(
          "[distributed] this process's NCCL communicator is on GPU {}, the array on GPU {} (one "
          "GPU per process)",
          comm_device, device));
    }
    return comm;
  }
  const Nccl& n = loaded();
  UniqueId id;
  std::memset(&id, 0, sizeof(id));
  if (rank == 0) check_nccl(n.GetUniqueId(&id), "ncclGetUniqueId", "rank 0");
  share_id(&id, sizeof(id));
  make_current(device);
  check_nccl(n.CommInitRank(&comm, size, id, rank), "ncclCommInitRank",
             fmt::format("rank {} of {} on GPU {}", rank, size, device));
  comm_device = device;
  return comm;
}

void nccl_all_reduce_sum(void* comm, const void* send, void* recv, size_t count, Dtype dtype,
                         CUstream stream) {
  auto [type, op] = wire(dtype);
  check_nccl(loaded().AllReduce(send, recv, count, type, op, comm, stream), "ncclAllReduce",
             fmt::format("{} elements of {}", count, dtype_name(dtype)));
}

void nccl_all_gather(void* comm, const void* send, void* recv, size_t count, Dtype dtype,
                     CUstream stream) {
  check_nccl(loaded().AllGather(send, recv, count, wire(dtype).first, comm, stream),
             "ncclAllGather", fmt::format("{} elements of {} per rank", count, dtype_name(dtype)));
}

void nccl_broadcast(void* comm, const void* send, void* recv, size_t count, Dtype dtype, int root,
                    CUstream stream) {
  check_nccl(loaded().Broadcast(send, recv, count, wire(dtype).first, root, comm, stream),
             "ncclBroadcast",
             fmt::format("{} elements of {} from rank {}", count, dtype_name(dtype), root));
}

}  // namespace mfx::cuda

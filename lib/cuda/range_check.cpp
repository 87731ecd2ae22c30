// Device-side index range checks: the error word, the op table, launches.
#include "cuda/range_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "cuda/fatbin.h"
#include "cuda/runtime.h"

// Defined by the file cmake/EmbedBinary.cmake generates (empty without nvcc).
extern const unsigned char kRangeCheckFatbin[];
extern const unsigned long long kRangeCheckFatbin_size;

namespace mfx::cuda {
namespace {

// Must match struct RangeErrorWord of kernels/range_check.cu byte for byte.
struct RangeErrorWord {
  unsigned long long flag;
  long long value, size, op;
};

struct DeviceChecks {
  CUdeviceptr word = 0;
  bool pending = false;
};

std::mutex& mutex() {
  static std::mutex m;
  return m;
}

// Per device, made on first use; never freed (CUDA graphs may hold the address).
std::map<int, DeviceChecks>& devices() {
  static auto* d = new std::map<int, DeviceChecks>();
  return *d;
}

std::vector<std::string>& op_names() {
  static auto* names = new std::vector<std::string>();
  return *names;
}

std::atomic<uint64_t> issued{0};

// The zeroed error word of a device (caller holds mutex()).
CUdeviceptr error_word(int index) {
  DeviceChecks& dc = devices()[index];
  if (dc.word) return dc.word;
  if (capturing()) {
    // Zeroing it would be recorded and repeated by every replay.
    throw CaptureError("[cuda graph] the first device range check cannot be recorded");
  }
  const Driver& d = driver();
  const RangeErrorWord zero{};
  CUdeviceptr w = 0;
  check(d.cuMemAlloc(&w, sizeof(RangeErrorWord)), "cuMemAlloc", "(range check error word)");
  check(d.cuMemcpyHtoD(w, &zero, sizeof zero), "cuMemcpyHtoD", "(range check error word)");
  check(d.cuCtxSynchronize(), "cuCtxSynchronize", "(range check error word)");
  dc.word = w;
  return w;
}

}  // namespace

bool range_check_kernels_built() {
  return kRangeCheckFatbin_size > 0;
}

std::pair<const unsigned char*, size_t> range_check_fatbin() {
  return {kRangeCheckFatbin, static_cast<size_t>(kRangeCheckFatbin_size)};
}

bool range_check_on_device(Dtype dtype) {
  return dtype == Dtype::int32 || dtype == Dtype::int64;
}

int64_t range_check_op_id(const std::string& op) {
  std::lock_guard<std::mutex> lock(mutex());
  auto& names = op_names();
  auto it = std::find(names.begin(), names.end(), op);
  if (it != names.end()) return it - names.begin();
  names.push_back(op);
  return static_cast<int64_t>(names.size()) - 1;
}

std::string range_check_op_name(int64_t id) {
  std::lock_guard<std::mutex> lock(mutex());
  const auto& names = op_names();
  return id >= 0 && id < static_cast<int64_t>(names.size()) ? names[id] : "?";
}

void range_check(Dtype dtype, CUdeviceptr idx, CUdeviceptr safe, int64_t n, int64_t size,
                 const std::string& op, int index, CUstream stream) {
  if (!range_check_on_device(dtype)) {
    throw std::invalid_argument(
        fmt::format("[{}] device range check: indices of dtype {} are checked on the host", op,
                    dtype_name(dtype)));
  }
  if (n <= 0) return;
  if (size <= 0) {
    // No index is valid and no replacement is in range: report it now.
    throw std::invalid_argument(
        fmt::format("[{}] {} indices into an axis with size {}", op, n, size));
  }
  long long op_id = range_check_op_id(op);
  CUfunction fn =
      fatbin_function(kRangeCheckFatbin, range_check_fatbin().second,
                      dtype == Dtype::int32 ? "range_check_i32" : "range_check_i64", op.c_str());
  CUdeviceptr word = 0;
  {
    std::lock_guard<std::mutex> lock(mutex());
    word = error_word(index);
    devices()[index].pending = true;
  }
  long long count = n, bound = size;
  void* params[] = {&idx, &safe, &count, &bound, &op_id, &word};
  constexpr unsigned kThreads = 256;
  const unsigned blocks =
      static_cast<unsigned>(std::min<int64_t>((n + kThreads - 1) / kThreads, 4096));
  check(driver().cuLaunchKernel(fn, blocks, 1, 1, kThreads, 1, 1, 0, stream, params, nullptr),
        "cuLaunchKernel",
        fmt::format("[{}] range check of {} indices against size {} ({} blocks)", op, n, size,
                    blocks));
  ++issued;
}

CUdeviceptr device_error_word(int index) {
  std::lock_guard<std::mutex> lock(mutex());
  const CUdeviceptr word = error_word(index);
  devices()[index].pending = true;
  ++issued;
  return word;
}

void range_checks_queued(int index) {
  std::lock_guard<std::mutex> lock(mutex());
  devices()[index].pending = true;
}

uint64_t range_checks_issued() {
  return issued.load();
}

void report_range_errors(int index) {
  RangeErrorWord got{};
  {
    std::lock_guard<std::mutex> lock(mutex());
    auto it = devices().find(index);
    if (it == devices().end() || !it->second.pending) return;
    const Driver& d = driver();
    // The caller synchronised: every queued check has finished.
    check(d.cuMemcpyDtoH(&got, it->second.word, sizeof got), "cuMemcpyDtoH",
          "(range check error word)");
    it->second.pending = false;
    if (!got.flag) return;
    const RangeErrorWord zero{};
    check(d.cuMemcpyHtoD(it->second.word, &zero, sizeof zero), "cuMemcpyHtoD",
          "(range check error word)");
  }
  if (got.size == -1) {
    throw std::invalid_argument(fmt::format(
        "[{}] key word is {}, outside [0, 2^32); keys hold two 32-bit words (found on gpu:{}; "
        "results computed since are not valid)",
        range_check_op_name(got.op), got.value, index));
  }
  throw std::invalid_argument(fmt::format(
      "[{}] index {} is out of range for an axis with size {} (found on gpu:{} by a device check; "
      "results computed since are not valid)",
      range_check_op_name(got.op), got.value, got.size, index));
}

}  // namespace mfx::cuda

// Index range checks on the device (internal; kernels in
// kernels/range_check.cu). Jitted GPU programs check the indices of their
// gathers and scatter-adds with a kernel instead of a host round trip, so
// they run without synchronisation and can be replayed as CUDA graphs. A
// violation is recorded in a per-device error word; the host reads it at its
// next synchronisation with the device (a device-to-host copy, item(),
// to_vector(), gpu::synchronize) and throws there, like an asynchronous
// CUDA error: results computed from a bad index are never handed out.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "cuda/driver.h"
#include "mfx/dtype.h"

namespace mfx::cuda {

/// True when the build embedded the kernels (nvcc was available).
bool range_check_kernels_built();
/// The embedded fatbin (empty without nvcc): for tests and diagnostics.
std::pair<const unsigned char*, size_t> range_check_fatbin();

/// Index dtypes the device check takes (int32, int64); others are checked
/// on the host.
bool range_check_on_device(Dtype dtype);

/// Queues the check of `n` indices at `idx` against [-size, size) on
/// `stream` of device `index`, writing in-range copies (out-of-range ones as
/// 0) to `safe` (may equal `idx`). `op` names the op in the error message.
void range_check(Dtype dtype, CUdeviceptr idx, CUdeviceptr safe, int64_t n, int64_t size,
                 const std::string& op, int index, CUstream stream);

/// The error word of device `index` for other kernels that record invalid
/// input the same way (random keys: size = -1, value = the bad key word),
/// noted to be read at the next synchronisation.
CUdeviceptr device_error_word(int index);

/// Notes that checks were queued on device `index` outside range_check
/// (a replayed CUDA graph containing some).
void range_checks_queued(int index);
/// Checks queued through range_check so far (all devices): lets a graph
/// capture tell whether it recorded any.
uint64_t range_checks_issued();

/// When checks were queued on device `index` since the last call: reads the
/// error word (synchronously) and throws std::invalid_argument "[<op>] index
/// <v> is out of range for an axis with size <n> (found on gpu:<i>)" after
/// clearing it when one failed. Called by the runtime after it synchronised.
void report_range_errors(int index);

/// The op's id in the table the error word refers to (for tests).
int64_t range_check_op_id(const std::string& op);
/// The name of an op id ("?" when unknown).
std::string range_check_op_name(int64_t id);

}  // namespace mfx::cuda

// Launchers of the sort CUDA kernels (lib/cuda/kernels/sort.cu, embedded as
// a fatbin when nvcc was found at configure time): Sort, ArgSort and TopK
// along the last axis of a row-major [rows, n] buffer. Raw device pointers
// in, work queued on `stream` of the current context; the caller owns
// synchronisation (internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "cuda/driver.h"
#include "mfx/dtype.h"

namespace mfx::cuda {

/// One sort call: `rows` rows of `n` elements; the first `k` elements of each
/// sorted row are written (k = n for Sort/ArgSort, the k of TopK).
/// Ascending with NaN last (Sort, ArgSort), or descending with NaN first
/// (TopK); ties keep the lower index first in both.
struct SortProblem {
  int64_t rows = 0, n = 0, k = 0;
  bool descending = false;
  std::string op = "sort";  // names the op in error messages
};

/// Rows up to this length are sorted in shared memory by one block each;
/// longer rows are sorted in runs of this length, then merged in global memory.
inline constexpr int64_t kSortChunk = 4096;

/// True when the build embedded the kernels (nvcc was available).
bool sort_kernels_built();

/// The embedded fatbin (empty without nvcc): for tests and diagnostics.
std::pair<const unsigned char*, size_t> sort_fatbin();

/// Throws std::invalid_argument "[<op>] GPU sort kernel: ..." naming the sizes
/// and dtype when the kernels cannot take the problem (negative sizes, k
/// outside [0, n], rows longer than int32 indices reach, too many blocks).
/// Every dtype is supported.
void sort_check_problem(const SortProblem& p, Dtype dtype);

/// Bytes of device scratch sort_rows needs (0 when n <= kSortChunk: rows are
/// sorted in shared memory).
size_t sort_scratch_bytes(const SortProblem& p, Dtype dtype);

/// Sorts each row of `in` ([rows, n], `dtype`) and writes the first k sorted
/// values to `values` ([rows, k], `dtype`) and their int32 positions in the
/// row to `indices` ([rows, k]); either output may be 0 (not written).
/// `scratch` holds sort_scratch_bytes(p, dtype) bytes (may be 0 when that is 0).
void sort_rows(const SortProblem& p, Dtype dtype, CUdeviceptr in, CUdeviceptr values,
               CUdeviceptr indices, CUdeviceptr scratch, CUstream stream);

}  // namespace mfx::cuda

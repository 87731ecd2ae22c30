// Loading and launching the embedded sort kernels.
#include "cuda/sort.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <stdexcept>

// Defined by the file cmake/EmbedBinary.cmake generates (empty without nvcc).
extern const unsigned char kSortFatbin[];
extern const unsigned long long kSortFatbin_size;

namespace mfx::cuda {
namespace {

// Must match struct SortRows of kernels/sort.cu byte for byte.
struct KernelRows {
  long long rows, n, k;
  int descending;
};

constexpr int kDtypes = 8;  // every Dtype, in enum order
constexpr unsigned kMergeThreads = 256;
// Indices of padding run past the row by less than a chunk; they stay in int.
constexpr int64_t kMaxRow = INT_MAX - kSortChunk;

struct Functions {
  CUfunction block[kDtypes];
  CUfunction merge[kDtypes];
};

const char* const kSuffix[kDtypes] = {"bool", "u8", "i32", "i64", "f16", "bf16", "f32", "f64"};

// One module per context: kernels are loaded on first use in each.
const Functions& functions() {
  static std::mutex mutex;
  static std::map<CUcontext, Functions> loaded;
  const Driver& d = driver();
  CUcontext ctx = nullptr;
  check(d.cuCtxGetCurrent(&ctx), "cuCtxGetCurrent", "sort");
  std::lock_guard<std::mutex> lock(mutex);
  auto it = loaded.find(ctx);
  if (it != loaded.end()) return it->second;
  if (!sort_kernels_built()) {
    throw std::runtime_error(
        "[sort] this build has no CUDA kernels (nvcc was not found at configure time)");
  }
  CUmodule module = nullptr;
  check(d.cuModuleLoadData(&module, kSortFatbin), "cuModuleLoadData", "sort fatbin");
  Functions f{};
  auto get = [&](CUfunction* slot, const std::string& name) {
    check(d.cuModuleGetFunction(slot, module, name.c_str()), "cuModuleGetFunction", name);
  };
  for (int i = 0; i < kDtypes; ++i) {
    get(&f.block[i], std::string("sort_block_") + kSuffix[i]);
    get(&f.merge[i], std::string("sort_merge_") + kSuffix[i]);
  }
  return loaded.emplace(ctx, f).first->second;
}

// Bytes of one order key: 8 for 64-bit elements, 4 otherwise.
size_t key_bytes(Dtype dtype) {
  return size_of(dtype) == 8 ? 8 : 4;
}

int64_t runs_of(const SortProblem& p) {
  return (p.n + kSortChunk - 1) / kSortChunk;
}

// Merge passes after the runs are sorted: ceil(log2(runs)).
int merge_passes(const SortProblem& p) {
  int passes = 0;
  for (int64_t width = kSortChunk; width < p.n; width *= 2) ++passes;
  return passes;
}

size_t align256(size_t bytes) {
  return (bytes + 255) / 256 * 256;
}

// Layout of the scratch: one or two (keys, indices) buffers of [rows, n].
struct Scratch {
  size_t keys = 0, indices = 0;  // bytes of each part
  int buffers = 0;
};
Scratch scratch_layout(const SortProblem& p, Dtype dtype) {
  Scratch s;
  const int passes = merge_passes(p);
  if (passes == 0) return s;
  const size_t elems = static_cast<size_t>(p.rows) * static_cast<size_t>(p.n);
  s.keys = align256(elems * key_bytes(dtype));
  s.indices = align256(elems * sizeof(int));
  s.buffers = passes >= 2 ? 2 : 1;  // one pass goes from scratch to the outputs
  return s;
}

std::string describe(const SortProblem& p, Dtype dtype) {
  return fmt::format("rows {}, n {}, k {}, dtype {}", p.rows, p.n, p.k, dtype_name(dtype));
}

void launch(CUfunction fn, unsigned blocks, unsigned threads, unsigned shared, void** params,
            CUstream stream, const SortProblem& p, Dtype dtype, const char* kernel) {
  check(driver().cuLaunchKernel(fn, blocks, 1, 1, threads, 1, 1, shared, stream, params, nullptr),
        "cuLaunchKernel",
        fmt::format("{} {}: {} blocks x {} threads, {} B shared ({})", p.op, kernel, blocks,
                    threads, shared, describe(p, dtype)));
}

}  // namespace

bool sort_kernels_built() {
  return kSortFatbin_size > 0;
}

std::pair<const unsigned char*, size_t> sort_fatbin() {
  return {kSortFatbin, static_cast<size_t>(kSortFatbin_size)};
}

void sort_check_problem(const SortProblem& p, Dtype dtype) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(
        fmt::format("[{}] GPU sort kernel: {} ({})", p.op, why, describe(p, dtype)));
  };
  if (p.rows < 0 || p.n < 0) fail("negative sizes");
  if (p.k < 0 || p.k > p.n) fail(fmt::format("k must be in [0, {}]", p.n));
  if (p.n > kMaxRow) fail(fmt::format("rows longer than {} elements are not supported", kMaxRow));
  if (p.n == 0) return;
  const int64_t most = INT_MAX;
  if (p.rows > most / runs_of(p)) fail("too many rows for one launch");
  if (merge_passes(p) > 0 && p.rows > (most * kMergeThreads) / p.n) {
    fail("too many elements for one launch");
  }
}

size_t sort_scratch_bytes(const SortProblem& p, Dtype dtype) {
  sort_check_problem(p, dtype);
  const Scratch s = scratch_layout(p, dtype);
  return static_cast<size_t>(s.buffers) * (s.keys + s.indices);
}

void sort_rows(const SortProblem& p, Dtype dtype, CUdeviceptr in, CUdeviceptr values,
               CUdeviceptr indices, CUdeviceptr scratch, CUstream stream) {
  sort_check_problem(p, dtype);
  if (p.rows == 0 || p.n == 0 || p.k == 0) return;
  const Scratch layout = scratch_layout(p, dtype);
  if (layout.buffers > 0 && scratch == 0) {
    throw std::invalid_argument(
        fmt::format("[{}] GPU sort kernel: {} bytes of scratch are needed ({})", p.op,
                    sort_scratch_bytes(p, dtype), describe(p, dtype)));
  }
  const Functions& f = functions();
  const int slot = static_cast<int>(dtype);
  KernelRows rows{p.rows, p.n, p.k, p.descending ? 1 : 0};
  // Scratch buffer b: keys then indices.
  auto keys_at = [&](int b) { return scratch + b * (layout.keys + layout.indices); };
  auto idx_at = [&](int b) { return keys_at(b) + layout.keys; };

  int pad = 1;
  while (pad < std::min(p.n, kSortChunk)) pad <<= 1;
  const unsigned threads = static_cast<unsigned>(std::clamp(pad / 2, 32, 1024));
  const unsigned shared = static_cast<unsigned>(pad * (key_bytes(dtype) + sizeof(int)));
  const unsigned blocks = static_cast<unsigned>(p.rows * runs_of(p));
  const bool direct = layout.buffers == 0;
  CUdeviceptr block_keys = direct ? 0 : keys_at(0), block_idx = direct ? 0 : idx_at(0);
  void* block_params[] = {&in, &values, &indices, &block_keys, &block_idx, &rows, &pad};
  launch(f.block[slot], blocks, threads, shared, block_params, stream, p, dtype, "sort_block");
  if (direct) return;

  const int64_t elems = p.rows * p.n;
  const unsigned merge_blocks = static_cast<unsigned>((elems + kMergeThreads - 1) / kMergeThreads);
  int from = 0;
  for (long long width = kSortChunk; width < p.n; width *= 2) {
    int to_outputs = 2 * width >= p.n ? 1 : 0;
    CUdeviceptr keys_in = keys_at(from), idx_in = idx_at(from);
    CUdeviceptr keys_out = to_outputs ? 0 : keys_at(1 - from);
    CUdeviceptr idx_out = to_outputs ? 0 : idx_at(1 - from);
    void* params[] = {&in,     &keys_in, &idx_in, &keys_out, &idx_out,
                      &values, &indices, &rows,   &width,    &to_outputs};
    launch(f.merge[slot], merge_blocks, kMergeThreads, 0, params, stream, p, dtype, "sort_merge");
    from = 1 - from;
  }
}

}  // namespace mfx::cuda

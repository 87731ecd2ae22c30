// Loading and launching the embedded ms_deform_attn kernels.
#include "cuda/msda.h"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <stdexcept>

// Defined by the file cmake/EmbedBinary.cmake generates (empty without nvcc).
extern const unsigned char kMsdaFatbin[];
extern const unsigned long long kMsdaFatbin_size;

namespace mfx::cuda {
namespace {

// Must match the structs of kernels/ms_deform_attn.cu byte for byte.
struct KernelLevels {
  int count;
  int height[kMsdaMaxLevels];
  int width[kMsdaMaxLevels];
  long long start[kMsdaMaxLevels];
};
struct KernelSizes {
  long long batch, positions, queries;
  int heads, channels, levels, points;
};

constexpr unsigned kThreadsPerBlock = 256;  // 8 warps, one (b, q, h) each

struct Functions {
  CUfunction forward[2];  // float32, float64
  CUfunction backward[2];
};

// One module per context: kernels are loaded on first use in each.
const Functions& functions() {
  static std::mutex mutex;
  static std::map<CUcontext, Functions> loaded;
  const Driver& d = driver();
  CUcontext ctx = nullptr;
  check(d.cuCtxGetCurrent(&ctx), "cuCtxGetCurrent", "ms_deform_attn");
  std::lock_guard<std::mutex> lock(mutex);
  auto it = loaded.find(ctx);
  if (it != loaded.end()) return it->second;
  if (!msda_kernels_built()) {
    throw std::runtime_error(
        "[ms_deform_attn] this build has no CUDA kernels (nvcc was not found at configure time)");
  }
  CUmodule module = nullptr;
  check(d.cuModuleLoadData(&module, kMsdaFatbin), "cuModuleLoadData", "ms_deform_attn fatbin");
  Functions f{};
  const char* names[4] = {"msda_forward_f32", "msda_forward_f64", "msda_backward_f32",
                          "msda_backward_f64"};
  CUfunction* slots[4] = {&f.forward[0], &f.forward[1], &f.backward[0], &f.backward[1]};
  for (int i = 0; i < 4; ++i) {
    check(d.cuModuleGetFunction(slots[i], module, names[i]), "cuModuleGetFunction", names[i]);
  }
  return loaded.emplace(ctx, f).first->second;
}

int dtype_slot(Dtype dtype) {
  return dtype == float64 ? 1 : 0;
}

std::pair<KernelSizes, KernelLevels> kernel_args(const MsdaProblem& p) {
  KernelLevels lv{};
  lv.count = static_cast<int>(p.shapes.size());
  long long start = 0;
  for (size_t l = 0; l < p.shapes.size(); ++l) {
    lv.height[l] = static_cast<int>(p.shapes[l].first);
    lv.width[l] = static_cast<int>(p.shapes[l].second);
    lv.start[l] = start;
    start += p.shapes[l].first * p.shapes[l].second;
  }
  KernelSizes s{p.batch, p.positions, p.queries, p.heads, p.channels, lv.count, p.points};
  return {s, lv};
}

unsigned blocks_for(const MsdaProblem& p) {
  const long long threads = p.batch * p.queries * p.heads * 32;
  const long long blocks = (threads + kThreadsPerBlock - 1) / kThreadsPerBlock;
  if (blocks > 0x7fffffffLL) {
    throw std::invalid_argument(
        fmt::format("[ms_deform_attn] batch {} x queries {} x heads {} is too large for one launch",
                    p.batch, p.queries, p.heads));
  }
  return static_cast<unsigned>(blocks);
}

void launch(CUfunction fn, const MsdaProblem& p, void** params, CUstream stream) {
  const unsigned blocks = blocks_for(p);
  if (blocks == 0) return;
  check(
      driver().cuLaunchKernel(fn, blocks, 1, 1, kThreadsPerBlock, 1, 1, 0, stream, params, nullptr),
      "cuLaunchKernel",
      fmt::format("ms_deform_attn: {} blocks for batch {} queries {} heads {} channels {}", blocks,
                  p.batch, p.queries, p.heads, p.channels));
}

}  // namespace

bool msda_kernels_built() {
  return kMsdaFatbin_size > 0;
}

std::pair<const unsigned char*, size_t> msda_fatbin() {
  return {kMsdaFatbin, static_cast<size_t>(kMsdaFatbin_size)};
}

void msda_check_problem(const MsdaProblem& p, Dtype dtype) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument(fmt::format(
        "[ms_deform_attn] GPU kernel: {} (batch {}, positions {}, queries {}, heads {}, channels "
        "{}, levels {}, points {})",
        why, p.batch, p.positions, p.queries, p.heads, p.channels, p.shapes.size(), p.points));
  };
  if (dtype != float32 && dtype != float64) {
    fail(fmt::format("dtype {} is not supported (float32, float64)", dtype_name(dtype)));
  }
  if (p.shapes.empty() || p.shapes.size() > static_cast<size_t>(kMsdaMaxLevels)) {
    fail(fmt::format("1 to {} levels are supported", kMsdaMaxLevels));
  }
  if (p.channels < 1 || p.channels > kMsdaMaxChannels) {
    fail(fmt::format("1 to {} channels per head are supported", kMsdaMaxChannels));
  }
  if (p.batch < 0 || p.queries < 0 || p.heads < 1 || p.points < 1) fail("bad sizes");
  int64_t positions = 0;
  for (auto [h, w] : p.shapes) {
    if (h < 1 || w < 1 || h > 0x7fffffff || w > 0x7fffffff) fail("bad level shape");
    positions += h * w;
  }
  if (positions != p.positions) {
    fail(fmt::format("the level shapes cover {} positions", positions));
  }
}

void msda_forward(const MsdaProblem& p, Dtype dtype, CUdeviceptr value, CUdeviceptr loc,
                  CUdeviceptr attn, CUdeviceptr out, CUstream stream) {
  msda_check_problem(p, dtype);
  auto [sizes, levels] = kernel_args(p);
  void* params[] = {&value, &loc, &attn, &out, &sizes, &levels};
  launch(functions().forward[dtype_slot(dtype)], p, params, stream);
}

void msda_backward(const MsdaProblem& p, Dtype dtype, CUdeviceptr value, CUdeviceptr loc,
                   CUdeviceptr attn, CUdeviceptr grad_out, CUdeviceptr grad_value,
                   CUdeviceptr grad_loc, CUdeviceptr grad_attn, CUstream stream) {
  msda_check_problem(p, dtype);
  auto [sizes, levels] = kernel_args(p);
  void* params[] = {&value,    &loc,       &attn,  &grad_out, &grad_value,
                    &grad_loc, &grad_attn, &sizes, &levels};
  launch(functions().backward[dtype_slot(dtype)], p, params, stream);
}

}  // namespace mfx::cuda

// GPU roofline-style benchmark of eager mfx ops (float32), each against a
// baseline:
//   copy       cuMemcpyDtoD of 256 MiB: the device's copy bandwidth, the
//              baseline of the memory-bound rows (bytes read + written / s)
//   add, exp   eager elementwise ops on 64M elements
//   sum        reduction of all 64M elements, and row sums of [8192, 8192]
//   sort       sort of [1024, 4096] along the last axis
//   matmul     4096^3 through mfx against cuBLAS called directly with the
//              same compute type (ratio of times; 1 = no mfx overhead)
//   launch     time per op of 1000 dependent tiny eager adds, each evaluated,
//              with one synchronisation at the end (dispatch + launch overhead)
//   jit chain  16 dependent tiny layers (32 steps) jitted, replayed step by
//              step and as a CUDA graph: time per step and per graph node
// Memory-bound rows report GB/s of bytes read + written and the fraction of
// the copy bandwidth. Times are medians of host-clock runs that end with a
// device synchronisation. Without a GPU it prints "skipped: no GPU" and exits 0.
// Prints a table and, with --json FILE, writes the results as JSON.
#include <dlfcn.h>
#include <fmt/format.h>
#include <mfx/gpu.h>
#include <mfx/jit.h>
#include <mfx/mfx.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_utils.h"
#include "compiler/gpu/cublas.h"
#include "cuda/driver.h"
#include "cuda/runtime.h"

using namespace mfx;

namespace {

struct Row {
  std::string name;
  std::string shape;
  double ms = 0;
  double gbps = 0;      // bytes read + written per second (0: not memory bound)
  double fraction = 0;  // gbps / copy bandwidth
  std::string note;
};

// Median wall time in ms of `run` followed by a device synchronisation,
// after one warm-up run (which also compiles and caches kernels).
double median_ms(const std::function<void()>& run, double min_seconds, int min_iters) {
  return bench::median_ms(
      [&] {
        run();
        gpu::synchronize(0);
      },
      min_iters, min_seconds, 1 << 20);
}

double gb_per_s(double bytes, double ms) {
  return bytes / (ms * 1e-3) / 1e9;
}

// cuMemcpyDtoD from the driver mfx already loaded (its Driver table does not
// list it; the benchmark is the only user).
using MemcpyDtoD = cuda::CUresult (*)(cuda::CUdeviceptr, cuda::CUdeviceptr, size_t);
MemcpyDtoD memcpy_dtod() {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  void* sym = lib ? dlsym(lib, "cuMemcpyDtoD_v2") : nullptr;
  if (!sym) throw std::runtime_error("cuMemcpyDtoD_v2 not found in libcuda.so.1");
  return reinterpret_cast<MemcpyDtoD>(sym);
}

cuda::CUdeviceptr dptr(const array& a) {
  return reinterpret_cast<cuda::CUdeviceptr>(a.raw_data());
}

array on_gpu(const array& host) {
  array g = to_device(host, Device::gpu());
  g.eval();
  return g;
}

// One cuBLAS SGEMM C = A B of row-major n x n matrices, as mfx issues it
// (operands swapped for column-major), full float32 unless TF32 is allowed.
void cublas_sgemm(const array& a, const array& b, const array& c, int n) {
  const float alpha = 1, beta = 0;
  const int compute = gpu::allow_tf32() ? cuda::kCublasCompute32FFastTF32 : cuda::kCublasCompute32F;
  cuda::check_cublas(cuda::cublas().gemm_strided_batched_ex(
                         cuda::cublas_handle(0), cuda::kCublasOpN, cuda::kCublasOpN, n, n, n,
                         &alpha, b.raw_data(), cuda::kCudaR32F, n, int64_t{n} * n, a.raw_data(),
                         cuda::kCudaR32F, n, int64_t{n} * n, &beta, c.raw_data(), cuda::kCudaR32F,
                         n, int64_t{n} * n, 1, compute, cuda::kCublasGemmDefault),
                     "cublasGemmStridedBatchedEx", "(bench_gpu)");
}

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  double min_seconds = 1.0;
  int min_iters = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--quick") {
      min_seconds = 0.05;
      min_iters = 2;
    } else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--quick]\n", argv[0]);
      return 2;
    }
  }
  if (!gpu::is_available()) {
    std::printf("skipped: no GPU (%s)\n", gpu::unavailable_reason().c_str());
    return 0;
  }
  std::vector<Row> rows;

  // Copy bandwidth: 256 MiB device to device.
  const int64_t big = int64_t{64} << 20;  // 64M float32 = 256 MiB
  const double big_bytes = static_cast<double>(big) * 4;
  array x = on_gpu(ones({big}));
  array y = on_gpu(full({big}, array(2.0f)));
  array copy_dst = on_gpu(zeros({big}));
  const MemcpyDtoD dtod = memcpy_dtod();
  const double copy_ms = median_ms(
      [&] {
        cuda::check(dtod(dptr(copy_dst), dptr(x), static_cast<size_t>(big_bytes)), "cuMemcpyDtoD");
      },
      min_seconds, min_iters);
  const double copy_gbps = gb_per_s(2 * big_bytes, copy_ms);
  rows.push_back({"copy (cuMemcpyDtoD)", "256 MiB", copy_ms, copy_gbps, 1.0, "baseline"});

  auto memory_row = [&](const std::string& name, const std::string& shape, double bytes,
                        const std::function<array()>& op) {
    const double ms = median_ms([&] { op().eval(); }, min_seconds, min_iters);
    const double gbps = gb_per_s(bytes, ms);
    rows.push_back({name, shape, ms, gbps, gbps / copy_gbps, ""});
  };
  memory_row("add", "[64M] + [64M]", 3 * big_bytes, [&] { return x + y; });
  memory_row("exp", "[64M]", 2 * big_bytes, [&] { return exp(x); });
  memory_row("sum (all)", "[64M]", big_bytes, [&] { return sum(x); });
  array square = reshape(x, {8192, 8192});
  square.eval();
  memory_row("sum (rows)", "[8192, 8192] axis 1", big_bytes + 8192 * 4.0,
             [&] { return sum(square, 1); });
  array keys = on_gpu(random::uniform(random::key(0), {1024, 4096}));
  const double key_bytes = 1024 * 4096 * 4.0;
  memory_row("sort", "[1024, 4096] axis -1", 2 * key_bytes, [&] { return sort(keys, -1); });
  memory_row("argsort", "[1024, 4096] axis -1", 2 * key_bytes, [&] { return argsort(keys, -1); });

  // Matmul: mfx against cuBLAS on the same operands.
  const int n = 4096;
  array a = on_gpu(random::normal(random::key(1), {n, n}));
  array b = on_gpu(random::normal(random::key(2), {n, n}));
  array c = on_gpu(zeros({n, n}));
  const double flops = 2.0 * n * n * n;
  const double mfx_ms = median_ms([&] { matmul(a, b).eval(); }, min_seconds, min_iters);
  const double blas_ms = median_ms([&] { cublas_sgemm(a, b, c, n); }, min_seconds, min_iters);
  rows.push_back({"matmul (mfx)", "4096^3", mfx_ms, 0, 0,
                  fmt::format("{:.1f} TFLOP/s", flops / (mfx_ms * 1e-3) / 1e12)});
  rows.push_back({"matmul (cuBLAS)", "4096^3", blas_ms, 0, 0,
                  fmt::format("{:.1f} TFLOP/s; mfx / cuBLAS time {:.3f}",
                              flops / (blas_ms * 1e-3) / 1e12, mfx_ms / blas_ms)});

  // Launch overhead: 1000 dependent tiny adds, each evaluated eagerly.
  array tiny = on_gpu(ones({16}));
  const int ops = 1000;
  const double launch_ms = median_ms(
      [&] {
        array t = tiny;
        for (int i = 0; i < ops; ++i) {
          t = t + tiny;
          t.eval();
        }
      },
      min_seconds, 3);
  rows.push_back({"launch overhead", "1000 x ([16] + [16])", launch_ms, 0, 0,
                  fmt::format("{:.2f} us per op", launch_ms * 1e3 / ops)});

  // Jitted program of 16 layers x = relu(x @ w) on [16, 16]: 32 steps
  // (cuBLAS + fused kernel per layer), replayed step by step and as a CUDA
  // graph; per step / per graph node.
  {
    const int layers = 16;
    ArrayFn chain = [](const std::vector<array>& a) {
      array h = a[0];
      for (int l = 0; l < 16; ++l) h = maximum(matmul(h, a[1]), array(0.0f)) * 0.5f + h;
      return std::vector<array>{h};
    };
    array h0 = on_gpu(random::normal(random::key(7), {16, 16}));
    array w = on_gpu(random::normal(random::key(8), {16, 16}) * 0.1f);
    JitOptions steps_opt{.name = "chain_steps"};
    JitOptions graph_opt{.name = "chain_graph", .cuda_graph = true};
    auto by_steps = jit(chain, steps_opt);
    auto as_graph = jit(chain, graph_opt);
    for (int i = 0; i < 3; ++i) eval(as_graph({h0, w}));  // warm up, capture, replay
    const double steps_ms = median_ms([&] { eval(by_steps({h0, w})); }, min_seconds, min_iters);
    const double graph_ms = median_ms([&] { eval(as_graph({h0, w})); }, min_seconds, min_iters);
    const JitStats st = by_steps.stats(), sg = as_graph.stats();
    const int nodes = std::max(1, sg.cuda_graph_nodes);
    rows.push_back({"jit, step by step", fmt::format("{} x relu([16,16] @ w)", layers), steps_ms, 0,
                    0,
                    fmt::format("{} steps; {:.2f} us per step", st.kernels,
                                steps_ms * 1e3 / std::max(1, st.kernels))});
    rows.push_back(
        {"jit, CUDA graph", fmt::format("{} x relu([16,16] @ w)", layers), graph_ms, 0, 0,
         fmt::format("{} nodes; {:.2f} us per node; {:.2f}x faster ({})", sg.cuda_graph_nodes,
                     graph_ms * 1e3 / nodes, steps_ms / graph_ms, sg.cuda_graph)});
  }

  fmt::print("{:<22} {:<24} {:>11} {:>9} {:>9}  {}\n", "op", "shape", "median ms", "GB/s",
             "of copy", "note");
  for (const Row& r : rows) {
    fmt::print("{:<22} {:<24} {:>11.4f} {:>9} {:>9}  {}\n", r.name, r.shape, r.ms,
               r.gbps > 0 ? fmt::format("{:.1f}", r.gbps) : "-",
               r.fraction > 0 ? fmt::format("{:.3f}", r.fraction) : "-", r.note);
  }
  if (!json_path.empty()) {
    std::string json = "[\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      json += fmt::format(
          "  {{\"op\": \"{}\", \"shape\": \"{}\", \"median_ms\": {:.6f}, \"gb_per_s\": {:.3f}, "
          "\"fraction_of_copy\": {:.4f}, \"note\": \"{}\"}}{}\n",
          r.name, r.shape, r.ms, r.gbps, r.fraction, r.note, i + 1 < rows.size() ? "," : "");
    }
    json += "]\n";
    if (!bench::write_text(json_path, json)) return 1;
  }
  return 0;
}

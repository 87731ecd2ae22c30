// GPU check of the hand-written ms_deform_attn kernels (ctest
// "gpu_ms_deform_attn"): forward and first-order gradients on random
// problems (several level shapes, channel counts below, at and above a warp,
// locations partly outside the levels and one NaN) against the CPU
// primitive and its vjp, in float32 and float64. Without a GPU it prints why
// and exits 77, which ctest reports as skipped.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "cuda/driver.h"
#include "cuda/msda.h"
#include "mfx/detection.h"
#include "mfx/gpu.h"
#include "mfx/mfx.h"

using namespace mfx;

namespace {

struct DeviceBuffer {
  cuda::CUdeviceptr ptr = 0;
  size_t bytes = 0;
  explicit DeviceBuffer(size_t n) : bytes(n) {
    cuda::check(cuda::driver().cuMemAlloc(&ptr, std::max<size_t>(n, 1)), "cuMemAlloc",
                fmt::format("{} bytes", n));
  }
  ~DeviceBuffer() { cuda::driver().cuMemFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
};

template <typename T>
std::unique_ptr<DeviceBuffer> upload(const array& a) {
  auto host = a.to_vector<T>();
  auto buf = std::make_unique<DeviceBuffer>(host.size() * sizeof(T));
  cuda::check(cuda::driver().cuMemcpyHtoD(buf->ptr, host.data(), buf->bytes), "cuMemcpyHtoD");
  return buf;
}

template <typename T>
std::vector<T> download(const DeviceBuffer& b) {
  std::vector<T> host(b.bytes / sizeof(T));
  cuda::check(cuda::driver().cuMemcpyDtoH(host.data(), b.ptr, b.bytes), "cuMemcpyDtoH");
  return host;
}

template <typename T>
double max_error(const std::vector<T>& got, const array& want) {
  auto w = want.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - w[i]) / (1 + std::abs(w[i])));
  }
  return worst;
}

// One problem: returns the number of failed comparisons.
template <typename T>
int check_problem(const cuda::MsdaProblem& p, uint64_t seed) {
  const Dtype dt = dtype_of<T>;
  array key = random::key(seed);
  const int64_t L = static_cast<int64_t>(p.shapes.size());
  array value = random::normal(random::fold_in(key, 1), {p.batch, p.positions, p.heads, p.channels},
                               0.0, 1.0, dt);
  // Locations in [-0.2, 1.2]: some samples fall partly or wholly outside.
  array loc = random::uniform(random::fold_in(key, 2),
                              {p.batch, p.queries, p.heads, L, p.points, 2}, -0.2, 1.2, dt);
  if (loc.size() > 0) {
    auto host = loc.to_vector<T>();
    host[0] = std::numeric_limits<T>::quiet_NaN();
    loc = array(host.data(), loc.shape(), dt);
  }
  array attn = softmax(random::normal(random::fold_in(key, 3),
                                      {p.batch, p.queries, p.heads, L * p.points}, 0.0, 1.0, dt),
                       -1);
  attn = reshape(attn, {p.batch, p.queries, p.heads, L, p.points});
  array cot = random::normal(random::fold_in(key, 4), {p.batch, p.queries, p.heads * p.channels},
                             0.0, 1.0, dt);
  auto f = [&](const std::vector<array>& x) {
    return std::vector<array>{ms_deform_attn(x[0], p.shapes, x[1], x[2])};
  };
  auto [outs, grads] = vjp(f, {value, loc, attn}, {cot});

  auto v = upload<T>(value), l = upload<T>(loc), a = upload<T>(attn), g = upload<T>(cot);
  DeviceBuffer out(static_cast<size_t>(outs[0].size()) * sizeof(T));
  DeviceBuffer gv(v->bytes), gl(l->bytes), ga(a->bytes);
  std::vector<T> zeros(v->bytes / sizeof(T), T(0));
  cuda::check(cuda::driver().cuMemcpyHtoD(gv.ptr, zeros.data(), gv.bytes), "cuMemcpyHtoD");
  cuda::msda_forward(p, dt, v->ptr, l->ptr, a->ptr, out.ptr, nullptr);
  cuda::msda_backward(p, dt, v->ptr, l->ptr, a->ptr, g->ptr, gv.ptr, gl.ptr, ga.ptr, nullptr);
  cuda::check(cuda::driver().cuCtxSynchronize(), "cuCtxSynchronize");

  // Atomic accumulation order differs from the CPU's: float32 tolerances
  // allow for it.
  const double tol = dt == float64 ? 1e-10 : 2e-4;
  int failures = 0;
  auto report = [&](const char* what, double err) {
    std::printf("%s B=%ld S=%ld Q=%ld H=%d D=%d L=%ld P=%d %s: max rel error %.3g\n",
                dtype_name(dt), static_cast<long>(p.batch), static_cast<long>(p.positions),
                static_cast<long>(p.queries), p.heads, p.channels, static_cast<long>(L), p.points,
                what, err);
    failures += !(err <= tol);
  };
  report("forward", max_error(download<T>(out), outs[0]));
  report("grad value", max_error(download<T>(gv), grads[0]));
  report("grad locations", max_error(download<T>(gl), grads[1]));
  report("grad weights", max_error(download<T>(ga), grads[2]));
  return failures;
}

// The same through GPU arrays: ms_deform_attn and its vjp dispatched by the
// eager GPU evaluator to these kernels.
int check_arrays(const cuda::MsdaProblem& p) {
  array key = random::key(3);
  const int64_t L = static_cast<int64_t>(p.shapes.size());
  array value =
      random::normal(random::fold_in(key, 1), {p.batch, p.positions, p.heads, p.channels});
  array loc =
      random::uniform(random::fold_in(key, 2), {p.batch, p.queries, p.heads, L, p.points, 2});
  array attn = random::uniform(random::fold_in(key, 3), {p.batch, p.queries, p.heads, L, p.points});
  array cot = random::normal(random::fold_in(key, 4), {p.batch, p.queries, p.heads * p.channels});
  auto f = [&](const std::vector<array>& x) {
    return std::vector<array>{ms_deform_attn(x[0], p.shapes, x[1], x[2])};
  };
  auto [want_out, want_grads] = vjp(f, {value, loc, attn}, {cot});
  const Device gpu = Device::gpu();
  auto [got_out, got_grads] = vjp(
      f, {to_device(value, gpu), to_device(loc, gpu), to_device(attn, gpu)}, {to_device(cot, gpu)});
  int failures = 0;
  auto compare = [&](const char* what, const array& got, const array& want) {
    const double err = max_error(to_device(got, Device::cpu()).to_vector<float>(), want);
    std::printf("GPU arrays %s: max rel error %.3g (on %s)\n", what, err,
                got.device().str().c_str());
    failures += !(err <= 2e-4) || !got.on_gpu();
  };
  compare("forward", got_out[0], want_out[0]);
  compare("grad value", got_grads[0], want_grads[0]);
  compare("grad locations", got_grads[1], want_grads[1]);
  compare("grad weights", got_grads[2], want_grads[2]);
  return failures;
}

}  // namespace

int main() {
  if (!cuda::gpu_available()) {
    std::printf("skipped: no GPU (%s)\n", cuda::gpu_unavailable_reason().c_str());
    return 77;
  }
  if (!cuda::msda_kernels_built()) {
    std::printf("skipped: built without nvcc, no ms_deform_attn kernels\n");
    return 77;
  }
  const cuda::Driver& d = cuda::driver();
  cuda::CUdevice dev;
  cuda::CUcontext ctx;
  cuda::check(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
  cuda::check(d.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  cuda::check(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  int failures = 0;
  std::vector<cuda::MsdaProblem> problems;
  // The reference configuration's head size (32), fewer channels than a warp,
  // and more (two chunks per lane).
  problems.push_back({2, 0, 17, 8, 32, 4, {{12, 16}, {6, 8}, {3, 4}, {2, 2}}});
  problems.push_back({1, 0, 9, 2, 7, 3, {{5, 3}, {1, 1}}});
  problems.push_back({3, 0, 4, 3, 80, 2, {{4, 4}}});
  for (auto& p : problems) {
    for (auto [h, w] : p.shapes) p.positions += h * w;
    failures += check_problem<float>(p, 7);
    failures += check_problem<double>(p, 11);
  }
  failures += check_arrays(problems[0]);
  std::printf("%s\n", failures ? "FAILED" : "all ms_deform_attn GPU checks passed");
  return failures ? 1 : 0;
}

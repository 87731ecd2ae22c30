// GPU check of jitted functions on GPU arrays (ctest "gpu_jit", label gpu):
// the match-free loss and all its gradients at a small size, jitted on GPU
// arrays (a GPU plan: block-fused kernels as PTX, cuBLAS matmuls), against
// the same function eagerly on the CPU; and a range error from the device
// path. Without a GPU it prints why and exits 77 (ctest: skipped).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "mfx/detr/criteria_trees.h"
#include "mfx/gpu.h"
#include "mfx/jit.h"
#include "mfx/mfx.h"

using namespace mfx;
using namespace mfx::detr;

namespace {

int failures = 0;

void expect_close(const array& got, const array& want, double tol, const std::string& what) {
  array g = to_device(got, Device::cpu());
  double err = max(abs(astype(g, float64) - astype(want, float64))).item<double>();
  double scale = std::max(1e-6, max(abs(astype(want, float64))).item<double>());
  if (!(err <= tol * scale)) {
    ++failures;
    std::printf("FAILED: %s: max error %.3g (scale %.3g)\n", what.c_str(), err, scale);
  }
}

Tree to_gpu(const Tree& t) {
  return t.map([](const array& a) { return to_device(a, Device::gpu()); });
}

void matchfree_step() {
  const int layers = 2, B = 4, N = 64, K = 12, D = 32, M = 8;
  Tree probe = init_probe(random::key(1), K, D, 32, float32);
  DecoderOutputs o;
  for (int l = 0; l < layers; ++l) {
    o.logits.push_back(random::normal(random::key(10 + l), {B, N, K}) * 2.0f);
    o.boxes.push_back(sigmoid(random::normal(random::key(20 + l), {B, N, 4})));
    o.hidden.push_back(random::normal(random::key(30 + l), {B, N, D}));
  }
  std::vector<array> labels, boxes;
  for (int b = 0; b < B; ++b) {
    labels.push_back(astype(remainder(arange(b + 2, int32) * 5 + b, array(K)), int32));
    boxes.push_back(sigmoid(random::normal(random::key(40 + b), {b + 2, 4})) * 0.5f + 0.25f);
  }
  Targets t = pad_targets(labels, boxes, M);
  Tree targets{{"labels", t.labels}, {"boxes", t.boxes}, {"mask", t.mask}};
  Tree outs = outputs_tree(o);
  auto step = matchfree_loss_and_grads(layers);
  auto [loss, g_probe, g_outs] = step(probe, outs, targets);
  auto jstep = jit_tree(step, {.name = "matchfree_gpu"});
  auto [jloss, jg_probe, jg_outs] = jstep(to_gpu(probe), to_gpu(outs), to_gpu(targets));
  expect_close(jloss, loss, 1e-4, "loss");
  auto a = g_probe.leaves(), b = jg_probe.leaves();
  for (size_t i = 0; i < a.size(); ++i)
    expect_close(b[i], a[i], 1e-3, fmt::format("probe grad {}", i));
  a = g_outs.leaves(), b = jg_outs.leaves();
  for (size_t i = 0; i < a.size(); ++i)
    expect_close(b[i], a[i], 1e-3, fmt::format("output grad {}", i));
}

void range_error() {
  auto f = jit([](const std::vector<array>& a) {
    return std::vector<array>{sum(take_along_axis(a[0], a[1], 1))};
  });
  array x = to_device(random::normal(random::key(3), {4, 5}), Device::gpu());
  array bad = to_device(array({0, 1, 5, 2}, Shape{4, 1}, int32), Device::gpu());
  try {
    eval(f({x, bad}));
    ++failures;
    std::printf("FAILED: out-of-range index on the GPU did not throw\n");
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find("index 5") == std::string::npos) {
      ++failures;
      std::printf("FAILED: unexpected message: %s\n", e.what());
    }
  }
}

}  // namespace

int main() {
  if (!gpu::is_available()) {
    std::printf("skipped: no GPU (%s)\n", gpu::unavailable_reason().c_str());
    return 77;
  }
  for (auto [name, f] :
       {std::pair{"match-free step", &matchfree_step}, std::pair{"range error", &range_error}}) {
    try {
      f();
    } catch (const std::exception& e) {
      ++failures;
      std::printf("FAILED: %s: %s\n", name, e.what());
    }
  }
  std::printf("%s\n", failures ? "gpu_jit: FAILED" : "gpu_jit: all passed");
  return failures ? 1 : 0;
}

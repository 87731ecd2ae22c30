// GPU check of training (ctest "gpu_train", label gpu): one training step
// of a tiny detector on GPU arrays equals the CPU step for both criteria,
// eagerly and jitted (the jitted match-free step also as a CUDA graph), and
// train::fit runs a few steps on the GPU, evaluates there and writes a
// checkpoint that loads on the host. Without a GPU it prints why and exits
// 77 (ctest: skipped).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "mfx/coco/synthetic.h"
#include "mfx/gpu.h"
#include "mfx/mfx.h"
#include "mfx/train/checkpoint.h"
#include "mfx/train/fit.h"
#include "tiny_detector.h"

using namespace mfx;
namespace fs = std::filesystem;

namespace {

int failures = 0;

void expect_close(const array& got, const array& want, double tol, const std::string& what) {
  array g = astype(to_device(got, Device::cpu()), float64);
  array w = astype(to_device(want, Device::cpu()), float64);
  const double err = max(abs(g - w)).item<double>();
  const double scale = std::max(1e-6, max(abs(w)).item<double>());
  if (!(err <= tol * scale)) {
    ++failures;
    std::printf("FAILED: %s: max error %.3g (scale %.3g)\n", what.c_str(), err, scale);
  }
}

void expect_close(const Tree& got, const Tree& want, double tol, const std::string& what) {
  auto g = got.flatten(), w = want.flatten();
  for (size_t i = 0; i < g.size(); ++i)
    expect_close(g[i].second, w[i].second, tol, what + "." + g[i].first);
}

void expect_params_close(const Tree& got, const Tree& want, double abs_tol,
                         const std::string& what) {
  auto g = got.flatten(), w = want.flatten();
  for (size_t i = 0; i < g.size(); ++i) {
    array d = abs(astype(to_device(g[i].second, Device::cpu()), float64) -
                  astype(to_device(w[i].second, Device::cpu()), float64));
    const double err = max(d).item<double>();
    if (!(err <= abs_tol)) {
      ++failures;
      std::printf("FAILED: %s.%s: max error %.3g\n", what.c_str(), g[i].first.c_str(), err);
    }
  }
}

Tree on(const Tree& t, Device d) {
  return t.map([d](const array& x) { return to_device(x, d); });
}

void step_on_gpu(criteria::Criterion criterion, bool jit, bool graph) {
  const auto model = mfx::test::tiny_detector(5, 0.1);
  array key = random::key(11);
  Tree params{{"model", detr::init_detector(random::fold_in(key, 1), model)},
              {"probe", criteria::init_probe(random::fold_in(key, 2), 5, 32, 32)}};
  optim::AdamW opt(detr::detector_adamw_config(model, "model.", 1e-3, 1e-4, 1.0));
  Tree state = opt.init(params);
  train::StepConfig sc;
  sc.criterion = criterion;
  sc.loss.model = model;
  sc.jit = jit;
  sc.cuda_graph = graph;
  Tree p_gpu = on(params, Device::gpu()), s_gpu = on(state, Device::gpu());
  Tree p_cpu = params, s_cpu = state;
  const std::string what =
      fmt::format("{} (jit {}, graph {})", criteria::to_string(criterion), jit, graph);
  for (int k = 0; k < (graph ? 3 : 1); ++k) {
    std::vector<array> labels{array({1, 3}, Shape{2}, int32), array({4}, Shape{1}, int32)};
    std::vector<array> boxes{random::uniform(random::key(20 + k), {2, 4}, 0.3, 0.7),
                             random::uniform(random::key(30 + k), {1, 4}, 0.3, 0.7)};
    criteria::Targets t = criteria::pad_targets(labels, boxes, 4);
    detr::Batch cpu{random::normal(random::key(40 + k), {2, 3, 64, 64}), zeros({2, 64, 64}, bool_),
                    t};
    detr::Batch gpu{
        to_device(cpu.images, Device::gpu()), to_device(cpu.mask, Device::gpu()),
        criteria::Targets{to_device(t.labels, Device::gpu()), to_device(t.boxes, Device::gpu()),
                          to_device(t.mask, Device::gpu())}};
    train::StepConfig eager = sc;
    eager.jit = eager.cuda_graph = false;
    const detr::StepInputs in{.dropout_key = random::key(7 + k)};
    auto want = train::train_step(p_cpu, s_cpu, opt, cpu, eager, k, in);
    auto got = train::train_step(p_gpu, s_gpu, opt, gpu, sc, k, in);
    expect_close(got.loss, want.loss, 1e-4, what + " loss");
    expect_close(got.grads, want.grads, 2e-3, what + " grads");
    // AdamW's first steps move a parameter by up to lr whatever its gradient's
    // size, so a near-zero gradient rounded differently may move it by lr.
    expect_params_close(p_gpu, p_cpu, 2.5e-3, what + " params");
  }
}

void fit_on_gpu() {
  const fs::path root = fs::temp_directory_path() / "mfx_gpu_train";
  fs::remove_all(root);
  coco::SyntheticConfig syn;
  syn.num_train = 4;
  syn.num_val = 2;
  syn.min_side = 64;
  syn.max_side = 80;
  syn.num_classes = 3;
  coco::write_synthetic_coco((root / "data").string(), syn);
  train::FitConfig c;
  c.data_dir = (root / "data").string();
  c.out_dir = (root / "out").string();
  c.model = detr::DetectorConfig::small_cpu();
  c.train_transforms.scales = {64};
  c.train_transforms.max_size = 96;
  c.train_transforms.crop_scales = {64};
  c.train_transforms.crop_min = 48;
  c.train_transforms.crop_max = 64;
  c.val_transforms.val_size = 64;
  c.val_transforms.max_size = 96;
  c.epochs = 1;
  c.batch_size = 2;
  c.num_workers = 0;
  c.progress = false;
  c.device = Device::gpu();
  auto r = train::fit(c);
  if (!(r.steps == 2 && std::isfinite(r.last_loss))) {
    ++failures;
    std::printf("FAILED: fit on the GPU: %lld steps, last loss %g\n",
                static_cast<long long>(r.steps), r.last_loss);
  }
  auto ckpt = train::load_checkpoint((root / "out" / "last.safetensors").string());
  if (ckpt.params.leaves().empty() || ckpt.params.leaves()[0].on_gpu()) {
    ++failures;
    std::printf("FAILED: the checkpoint did not load as host arrays\n");
  }
  fs::remove_all(root);
}

}  // namespace

int main() {
  if (!gpu::is_available()) {
    std::printf("skipped: no GPU (%s)\n", gpu::unavailable_reason().c_str());
    return 77;
  }
  std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"match-free step", [] { step_on_gpu(criteria::Criterion::matchfree, false, false); }},
      {"Hungarian step", [] { step_on_gpu(criteria::Criterion::hungarian, false, false); }},
      {"jitted match-free step", [] { step_on_gpu(criteria::Criterion::matchfree, true, false); }},
      {"jitted Hungarian step", [] { step_on_gpu(criteria::Criterion::hungarian, true, false); }},
      {"jitted match-free step as a CUDA graph",
       [] { step_on_gpu(criteria::Criterion::matchfree, true, true); }},
      {"fit on the GPU", fit_on_gpu}};
  for (auto& [name, f] : cases) {
    try {
      f();
    } catch (const std::exception& e) {
      ++failures;
      std::printf("FAILED: %s: %s\n", name.c_str(), e.what());
    }
  }
  std::printf("%s\n", failures ? "gpu_train: FAILED" : "gpu_train: all passed");
  return failures ? 1 : 0;
}

// The full Deformable DETR detector (backbone + transformer + heads):
//  - small_cpu (half-width ResNet-18, d_model 64, 2 + 2 layers) at B=2,
//    256x256: forward, and forward + backward of the match-free loss
//    (model and probe gradients), eager and under jit_tree (the first jitted
//    call, tracing + compilation + one run, is reported apart); and a
//    training step as train_coco runs one with the Hungarian criterion:
//    forward + backward + AdamW update (the reference's optimiser and
//    parameter groups), eager;
//  - coco_r50 (the reference) forward at B=1, 800x1333, eager; its forward +
//    backward only when the forward took less than --r50-backward-limit
//    seconds (default 60), since on a small CPU it takes minutes.
// Peak RSS (getrusage) is reported after each part, and the jitted loss
// and logits next to the eager ones. Prints a table;
// --json FILE writes it, with the small workload (batch, image size,
// ground truths, configuration, parameter counts) under "workload"; --no-r50 skips the R50 part; --quick uses 128x128.
// --inputs FILE writes what a peer needs to rebuild the train step, then
// exits without timing anything: the small_cpu parameters under their Tree
// paths ("model.backbone.0.body.conv1.weight", float32), the batch
// ("batch.images", "batch.mask", "targets.labels/boxes/mask"), and for a
// numerical check, with dropout off and in float64, the forward's outputs
// ("f64.outputs.logits_0", ...) and the Hungarian loss with its gradient
// w.r.t. every parameter ("f64.hungarian.loss", "f64.hungarian.grad.model.
// ...") on the parameters with the sampling offsets' biases moved off whole
// pixels ("check.model.*": the values that differ); the workload (as
// --json's, plus the criterion and the optimiser) is the file's metadata
// "workload".
// The first jitted call only compiles kernels missing from the on-disk
// kernel cache: run with MFX_CACHE_DIR set to an empty directory for cold
// compile times.
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/criteria/criteria_trees.h>
#include <mfx/detr/detector.h>
#include <mfx/io.h>
#include <mfx/jit.h>
#include <mfx/optimizers.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_utils.h"

using namespace mfx;
using namespace mfx::detr;

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

// Median of at least `min_iters` runs and ~1 s, after one warm-up run.
double median_ms(const std::function<void()>& run, int min_iters = 3) {
  run();
  std::vector<double> t;
  const auto start = clock_type::now();
  while (static_cast<int>(t.size()) < min_iters || seconds_since(start) < 1.0) {
    const auto t0 = clock_type::now();
    run();
    t.push_back(seconds_since(t0) * 1e3);
    if (t.size() >= 20) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double once_ms(const std::function<void()>& run) {
  const auto t0 = clock_type::now();
  run();
  return seconds_since(t0) * 1e3;
}

double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

void eval_all(const array& loss, const Tree& grads) {
  std::vector<array> all{loss};
  for (const auto& g : grads.leaves()) all.push_back(g);
  eval(all);
}

// A batch of B images of h x w, the last one padded on the right and bottom
// by a quarter, with 3 ground truths per image padded to a bucket of 8.
detr::Batch make_batch(int64_t b, int64_t h, int64_t w, int64_t classes) {
  const array key = random::key(42);
  array images = random::normal(random::fold_in(key, 0), {b, 3, h, w});
  const array rows = reshape(arange(h, int32), {1, h, 1});
  const array cols = reshape(arange(w, int32), {1, 1, w});
  const array last = equal(reshape(arange(b, int32), {b, 1, 1}), array(int32_t(b - 1)));
  const array mask = logical_and(
      last, logical_or(rows >= array(int32_t(h * 3 / 4)), cols >= array(int32_t(w * 3 / 4))));
  std::vector<array> labels, boxes;
  for (int64_t i = 0; i < b; ++i) {
    labels.push_back(random::randint(random::fold_in(key, 10 + i), 0, classes, {3}));
    boxes.push_back(random::uniform(random::fold_in(key, 20 + i), {3, 4}, 0.2, 0.6));
  }
  detr::Batch batch{images, mask, criteria::pad_targets(labels, boxes, 8)};
  eval({batch.images, batch.mask, batch.targets.labels, batch.targets.boxes, batch.targets.mask});
  return batch;
}

// The small workload as --json and --inputs report it: shapes, ground-truth
// counts, configuration, parameter counts, and the criterion's and the
// optimiser's settings a peer needs to run the same train step.
nlohmann::json small_workload(const Tree& params, const detr::Batch& batch,
                              const detr::LossConfig& lc, int64_t size) {
  const auto& cfg = lc.model;
  const DetectorParamCount count = detector_count_parameters(params["model"], cfg);
  std::vector<int64_t> gts;
  const int64_t m_bucket = batch.targets.mask.shape(1);
  const std::vector<double> m = astype(batch.targets.mask, float64).to_vector<double>();
  for (int64_t b = 0; b < batch.targets.mask.shape(0); ++b) {
    int64_t c = 0;
    for (int64_t i = 0; i < m_bucket; ++i) c += m[b * m_bucket + i] != 0;
    gts.push_back(c);
  }
  int64_t probe_params = 0;
  for (const auto& x : params["probe"].leaves()) probe_params += x.size();
  const optim::AdamWConfig adamw = detector_adamw_config(cfg);
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : adamw.groups) {
    groups.push_back({{"pattern", g.pattern},
                      {"lr_scale", g.lr_scale},
                      {"weight_decay", g.weight_decay ? nlohmann::json(*g.weight_decay)
                                                      : nlohmann::json(nullptr)}});
  }
  nlohmann::json w{{"config", "small_cpu"},
          {"batch", batch.images.shape(0)},
          {"image_hw", {size, size}},
          {"gt_counts", gts},
          {"M_bucket", m_bucket},
          {"num_classes", cfg.detr.num_classes},
          {"K", cfg.detr.num_classes},
          {"d_model", cfg.detr.d_model},
          {"enc_layers", cfg.detr.enc_layers},
          {"dec_layers", cfg.detr.dec_layers},
          {"num_queries", cfg.detr.num_queries},
          {"num_feature_levels", cfg.detr.num_feature_levels},
          {"params", count.total},
          {"trainable_params", count.trainable},
          {"probe_params", probe_params},
          {"detector_config", nlohmann::json::parse(detector_config_to_json(cfg))},
          {"optimizer", "AdamW lr 2e-4, weight decay 1e-4, detector_param_groups"},
          {"adamw",
           {{"lr", adamw.lr(0)},
            {"beta1", adamw.beta1},
            {"beta2", adamw.beta2},
            {"eps", adamw.eps},
            {"weight_decay", adamw.weight_decay},
            {"groups", groups}}},
          {"dropout", "on (LossConfig.train), every row"}};
  // The criteria's settings, in the form run_peers.py's torch_criteria reads
  // (it wants the match-free ones too).
  bench::add_criteria_settings(w, lc.matchfree, lc.hungarian, lc.hungarian.cost);
  return w;
}

// --inputs: the parameters and batch the train step uses, and mfx's float64
// forward outputs and Hungarian loss and gradient with dropout off (dropout
// draws differ between libraries, so only the deterministic network can be
// compared number for number).
void write_inputs(const std::string& path, const Tree& model, const detr::Batch& batch,
                  const detr::LossConfig& lc, const nlohmann::json& workload) {
  std::map<std::string, array> file;
  for (const auto& [k, v] : model.flatten()) file["model." + k] = v;
  std::vector<array> leaves64;
  for (const auto& x : model.leaves()) leaves64.push_back(astype(x, float64));
  const Tree model64 = model.unflatten(leaves64);
  file["batch.images"] = batch.images;
  file["batch.mask"] = batch.mask;
  file["targets.labels"] = batch.targets.labels;
  file["targets.boxes"] = batch.targets.boxes;
  file["targets.mask"] = batch.targets.mask;
  const detr::Batch batch64{astype(batch.images, float64), batch.mask,
                            {batch.targets.labels, astype(batch.targets.boxes, float64),
                             batch.targets.mask}};
  detr::LossConfig eval_cfg = lc;
  eval_cfg.train = false;
  const Tree outs = criteria::outputs_tree(
      detector_forward(model64, batch64.images, batch64.mask, lc.model, false));
  for (const auto& [k, v] : outs.flatten()) file["f64.outputs." + k] = v;
  // The gradient check moves every sampling_offsets bias by < 0.01 pixel.
  // At init they are whole pixels, so the encoder samples its own level
  // exactly at pixel centres, where bilinear sampling has a kink: there the
  // derivative depends on the last bit of the location, not on the code.
  std::vector<array> check_leaves;
  for (const auto& [k, v] : model.flatten()) {
    array x = astype(v, float64);
    if (k.find("sampling_offsets.bias") != std::string::npos) {
      x = x + random::uniform(random::fold_in(random::key(11), check_leaves.size()), x.shape(),
                              -0.01, 0.01, float64);
      file["check.model." + k] = x;
    }
    check_leaves.push_back(x);
  }
  // flatten() and leaves() list the leaves in the same order.
  const Tree check_model = model.unflatten(check_leaves);
  auto [loss, grads] = value_and_grad(detr::hungarian_loss)(check_model, batch64, eval_cfg);
  file["f64.hungarian.loss"] = loss;
  for (const auto& [k, v] : grads.flatten()) file["f64.hungarian.grad.model." + k] = v;
  save_safetensors(path, file, {{"workload", workload.dump()}});
  fmt::print("parameters, batch and float64 reference values written to {}\n", path);
}

struct Row {
  std::string config, mode, what;
  double ms;
};

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path, inputs_path;
  bool r50 = true;
  int64_t size = 256;
  double r50_backward_limit_s = 60.0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    if (a == "--inputs" && i + 1 < argc) inputs_path = argv[++i];
    if (a == "--no-r50") r50 = false;
    if (a == "--quick") size = 128;
    if (a == "--r50-backward-limit" && i + 1 < argc) r50_backward_limit_s = std::stod(argv[++i]);
  }
  std::vector<Row> rows;
  nlohmann::json rss, check, workload;

  // ---------------------------------------------------------------- small_cpu
  {
    detr::LossConfig lc;
    lc.model = DetectorConfig::small_cpu(4);
    lc.train = true;
    const auto& cfg = lc.model;
    Tree params{
        {"model", init_detector(random::key(0), cfg)},
        {"probe", criteria::init_probe(random::key(1), cfg.detr.num_classes, cfg.detr.d_model)}};
    eval(params);
    const detr::Batch batch = make_batch(2, size, size, cfg.detr.num_classes);
    const std::string name = fmt::format("small_cpu B=2 {}x{}", size, size);
    const array dropout_key = random::key(7);
    workload = small_workload(params, batch, lc, size);
    if (!inputs_path.empty()) {
      write_inputs(inputs_path, params["model"], batch, lc, workload);
      return 0;
    }

    auto forward = [cfg, dropout_key](const Tree& p, const array& images, const array& mask) {
      return criteria::outputs_tree(
          detector_forward(p["model"], images, mask, cfg, true, dropout_key));
    };
    auto step = [lc](const Tree& p, const array& images, const array& mask, const Tree& t) {
      const detr::Batch b{images, mask, {t["labels"].leaf(), t["boxes"].leaf(), t["mask"].leaf()}};
      return value_and_grad(detr::matchfree_loss)(p, b, lc);
    };
    const Tree targets{{"labels", batch.targets.labels},
                       {"boxes", batch.targets.boxes},
                       {"mask", batch.targets.mask}};

    rows.push_back({name, "eager", "forward",
                    median_ms([&] { eval(forward(params, batch.images, batch.mask)); })});
    rows.push_back({name, "eager", "forward+backward", median_ms([&] {
                      auto [l, g] = step(params, batch.images, batch.mask, targets);
                      eval_all(l, g);
                    })});
    auto jforward = jit_tree(forward, {.name = "detector_forward"});
    auto jstep = jit_tree(step, {.name = "detector_matchfree_step"});
    rows.push_back({name, "jit", "forward: first call (trace + compile + run)",
                    once_ms([&] { eval(jforward(params, batch.images, batch.mask)); })});
    rows.push_back({name, "jit", "forward",
                    median_ms([&] { eval(jforward(params, batch.images, batch.mask)); })});
    rows.push_back(
        {name, "jit", "forward+backward: first call (trace + compile + run)", once_ms([&] {
           auto [l, g] = jstep(params, batch.images, batch.mask, targets);
           eval_all(l, g);
         })});
    rows.push_back({name, "jit", "forward+backward", median_ms([&] {
                      auto [l, g] = jstep(params, batch.images, batch.mask, targets);
                      eval_all(l, g);
                    })});
    // A training step with the Hungarian criterion: loss and gradients of
    // the detector, then the reference's AdamW update (lr 2e-4, weight
    // decay 1e-4, its parameter groups), all evaluated.
    {
      const Tree model = params["model"];
      const optim::AdamW opt(detector_adamw_config(cfg));
      Tree state = opt.init(model);
      eval(state);
      rows.push_back({name, "eager", "train step: Hungarian fwd+bwd + AdamW update", median_ms([&] {
                        auto [l, g] = value_and_grad(detr::hungarian_loss)(model, batch, lc);
                        auto [p2, s2] = opt.update(model, g, state);
                        std::vector<array> all{l};
                        for (const auto& x : p2.leaves()) all.push_back(x);
                        for (const auto& x : s2.leaves()) all.push_back(x);
                        eval(all);
                      })});
    }
    // jit must compute what eager computes (same dropout key, same inputs).
    const array le = step(params, batch.images, batch.mask, targets).first;
    const array lj = jstep(params, batch.images, batch.mask, targets).first;
    const array fe = forward(params, batch.images, batch.mask).at("logits_1");
    const array fj = jforward(params, batch.images, batch.mask).at("logits_1");
    check["small_cpu_loss_eager"] = le.item<float>();
    check["small_cpu_loss_jit"] = lj.item<float>();
    check["small_cpu_logits_max_abs_diff"] = max(abs(fe - fj)).item<float>();
    rss["after_small_cpu_mib"] = peak_rss_mib();
  }

  // ---------------------------------------------------------------- coco_r50
  if (r50) {
    const DetectorConfig cfg = DetectorConfig::coco_r50();
    Tree params{
        {"model", init_detector(random::key(0), cfg)},
        {"probe", criteria::init_probe(random::key(1), cfg.detr.num_classes, cfg.detr.d_model)}};
    eval(params);
    const detr::Batch batch = make_batch(1, 800, 1333, cfg.detr.num_classes);
    const std::string name = "coco_r50 B=1 800x1333";
    const double fwd = once_ms([&] {
      eval(
          criteria::outputs_tree(detector_forward(params["model"], batch.images, batch.mask, cfg)));
    });
    rows.push_back({name, "eager", "forward (eval mode, one run)", fwd});
    rss["after_r50_forward_mib"] = peak_rss_mib();
    if (fwd < r50_backward_limit_s * 1e3) {
      detr::LossConfig lc;
      lc.model = cfg;
      rows.push_back({name, "eager", "forward+backward (one run)", once_ms([&] {
                        auto [l, g] = value_and_grad(detr::matchfree_loss)(params, batch, lc);
                        eval_all(l, g);
                      })});
      rss["after_r50_backward_mib"] = peak_rss_mib();
    } else {
      rows.push_back({name, "eager", "forward+backward skipped (forward over the limit)", 0.0});
    }
  }

  bench::print_blas_note();
  fmt::print("{:<24} {:<6} {:<52} {:>12}\n", "config", "mode", "what", "ms");
  for (const auto& r : rows) {
    fmt::print("{:<24} {:<6} {:<52} {:>12.1f}\n", r.config, r.mode, r.what, r.ms);
  }
  for (const auto& [k, v] : rss.items()) fmt::print("peak RSS {}: {:.0f}\n", k, v.get<double>());
  for (const auto& [k, v] : check.items()) fmt::print("{}: {:.6g}\n", k, v.get<double>());
  if (!json_path.empty()) {
    nlohmann::json j;
    for (const auto& r : rows) {
      j["rows"].push_back({{"config", r.config}, {"mode", r.mode}, {"what", r.what}, {"ms", r.ms}});
    }
    j["workload"] = workload;
    j["blas"] = bench::blas_info();
    j["peak_rss"] = rss;
    j["jit_vs_eager"] = check;
    std::ofstream(json_path) << j.dump(2) << "\n";
  }
}

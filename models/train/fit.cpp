// The training loop of train::fit (see include/mfx/train/fit.h).
#include "mfx/train/fit.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "device_scope.h"
#include "jit_step.h"
#include "mfx/coco/eval.h"
#include "mfx/coco/loader.h"
#include "mfx/distributed.h"
#include "mfx/mfx.h"
#include "mfx/train/step_report.h"
#include "mfx/train/train.h"

namespace mfx::train {

namespace fs = std::filesystem;

namespace {

// A batch (or Tree) on `device`; unchanged on the CPU.
array on(const array& x, Device device) {
  return device == Device::cpu() && !x.on_gpu() ? x : to_device(x, device);
}

Tree on(const Tree& t, Device device) {
  return t.map([device](const array& x) { return on(x, device); });
}

detr::Batch to_detr(const coco::Batch& b, Device device = Device::cpu()) {
  return {on(b.images, device), on(b.mask, device),
          detr::Targets{on(b.labels, device), on(b.boxes, device), on(b.valid, device)}};
}

using detail::DefaultDeviceScope;

std::vector<array> leaves_of(const Tree& a, const Tree& b) {
  auto l = a.leaves();
  auto m = b.leaves();
  l.insert(l.end(), m.begin(), m.end());
  return l;
}

// The logged scalars of a step: floating scalar components as they are, the
// per-(image, gt) selection counts as totals (their shape follows each
// process's padding, so only totals can be summed over processes).
Tree step_metrics(const Tree& components) {
  std::vector<std::pair<std::string, array>> items;
  for (auto& [path, leaf] : components.flatten()) {
    if (leaf.size() == 1 && is_floating(leaf.dtype())) {
      items.emplace_back(path, leaf);
    } else if (path.rfind("selected_per_gt_", 0) == 0) {
      items.emplace_back(path, sum(astype(leaf, float64)));
    }
  }
  return Tree::from_flat(items);
}

}  // namespace

StepResult train_step(Tree& params, Tree& opt_state, const optim::AdamW& opt,
                      const detr::Batch& batch, const StepConfig& config, int64_t step) {
  const bool matchfree = config.criterion == "matchfree";
  if (!matchfree && config.criterion != "hungarian") {
    throw std::invalid_argument(fmt::format(
        "[train_step] criterion must be 'matchfree' or 'hungarian', got '{}'", config.criterion));
  }
  const bool dp = config.data_parallel && distributed::is_distributed();
  // On GPU arrays, what the step creates (dropout masks, constants) goes there too.
  std::optional<DefaultDeviceScope> on_gpu;
  if (batch.images.on_gpu()) on_gpu.emplace(batch.images.device());
  detr::LossConfig loss_cfg = config.loss;
  StepResult r;
  r.images = batch.images.shape(0);
  const array local_gt = sum(astype(batch.targets.mask, float64));
  if (dp) {
    // Every process divides by the global count, so the local losses (and
    // gradients) add up to those of the global batch.
    auto counts =
        distributed::all_sum(stack({local_gt, array(static_cast<double>(r.images), float64)}))
            .to_vector<double>();
    r.num_gt = counts[0];
    r.images = static_cast<int64_t>(counts[1]);
    loss_cfg.matchfree.num_boxes = std::max(r.num_gt, 1.0);
    loss_cfg.hungarian.num_boxes = std::max(r.num_gt, 1.0);
  } else {
    r.num_gt = local_gt.item<double>();
  }
  array loss;
  Tree components, grads;
  if (config.jit) {
    // The per-step values are program inputs, so one compilation serves all.
    array key = random::key(loss_cfg.dropout_seed);
    array nb(std::max(r.num_gt, 1.0), float64);
    if (batch.images.on_gpu()) {
      // Program inputs live where the batch does (a CUDA graph copies them in).
      key = to_device(key, batch.images.device());
      nb = to_device(nb, batch.images.device());
    }
    auto j = detail::jit_loss_and_grads(params, batch, loss_cfg, config.criterion, key, nb,
                                        config.cuda_graph);
    loss = j.loss;
    components = j.components;
    grads = j.grads;
  } else {
    auto loss_fn =
        matchfree ? detr::matchfree_loss_and_components : detr::hungarian_loss_and_components;
    auto [value, g] = value_and_grad(loss_fn)(params, batch, loss_cfg);
    loss = value.first;
    components = value.second;
    grads = g;
  }
  Tree metrics = step_metrics(components);
  if (dp) {
    // One packed transfer per dtype; sums, not means (see fit.h).
    Tree total =
        distributed::all_sum(Tree{{"grads", grads}, {"loss", Tree(loss)}, {"metrics", metrics}});
    grads = total["grads"];
    loss = total["loss"].leaf();
    metrics = total["metrics"];
  }
  check_finite(Tree(loss), grads, step);
  auto [clipped, norm] = optim::clip_by_global_norm(grads, config.clip_max_norm);
  std::tie(params, opt_state) = opt.update(params, clipped, opt_state);
  eval(leaves_of(params, opt_state));
  r.loss = loss;
  r.components = metrics;
  r.grads = grads;
  r.grad_norm = norm;
  return r;
}

std::array<double, 12> evaluate_detector(const Tree& params, const models::DetectorConfig& model,
                                         const coco::DetectionDataset& data, int batch_size,
                                         const std::string& results_json, Device device) {
  // What the forward creates (position encodings, constants) goes to `device` too.
  std::optional<DefaultDeviceScope> on_gpu;
  if (device.type == Device::Type::gpu) on_gpu.emplace(device);
  std::vector<coco::Detection> dets;
  std::vector<coco::Sample> samples;
  auto flush = [&] {
    if (samples.empty()) return;
    coco::Batch b = coco::collate(samples, {});
    auto out =
        models::detector_forward(params, on(b.images, device), on(b.mask, device), model, false);
    std::vector<int32_t> sizes;
    for (auto& s : b.orig_sizes) {
      sizes.push_back(s[0]);
      sizes.push_back(s[1]);
    }
    array target_sizes = on(array(sizes, {b.size(), 2}, float32), device);
    auto det = models::post_process(out.logits.back(), out.boxes.back(), target_sizes);
    auto more =
        to_coco_results(det.scores, det.labels, det.boxes, b.image_ids, data.category_ids());
    dets.insert(dets.end(), more.begin(), more.end());
    samples.clear();
  };
  for (size_t i = 0; i < data.size(); ++i) {
    samples.push_back(data.get(i));
    if (static_cast<int>(samples.size()) == batch_size) flush();
  }
  flush();
  if (!results_json.empty()) coco::save_results(results_json, dets);
  return coco::evaluate(data.dataset(), dets).stats;
}

FitResult fit(const FitConfig& cfg) {
  if (cfg.criterion != "matchfree" && cfg.criterion != "hungarian") {
    throw std::invalid_argument(
        fmt::format("[fit] criterion must be 'matchfree' or 'hungarian', got '{}'", cfg.criterion));
  }
  if (cfg.epochs < 1 || cfg.batch_size < 1) {
    throw std::invalid_argument(fmt::format("[fit] epochs ({}) and batch_size ({}) must be >= 1",
                                            cfg.epochs, cfg.batch_size));
  }
  if (cfg.probe_warmup_steps < 0) {
    throw std::invalid_argument(
        fmt::format("[fit] probe_warmup_steps must be >= 0, got {}", cfg.probe_warmup_steps));
  }
  if (cfg.pad_multiple < 1) {
    throw std::invalid_argument(
        fmt::format("[fit] pad_multiple must be >= 1, got {}", cfg.pad_multiple));
  }
  if (cfg.collapse_images < 0) {
    throw std::invalid_argument(
        fmt::format("[fit] collapse_images must be >= 0, got {}", cfg.collapse_images));
  }
  // A bad variant setting fails here, before data is loaded.
  if (cfg.criterion == "matchfree") detr::validate_matchfree_config(cfg.matchfree, "fit");
  // A GPU run: ops run there from here on (throws when there is none).
  const Device device = cfg.device;
  DefaultDeviceScope device_scope(device);
  // Data parallel when the caller joined a group (distributed::init()).
  const int rank = distributed::rank(), world = distributed::world_size();
  const bool lead = rank == 0;
  const coco::SplitPaths train_split = coco::find_split(cfg.data_dir, "train");
  const coco::SplitPaths val_split = coco::find_split(cfg.data_dir, "val");
  coco::TransformConfig train_tf = cfg.train_transforms;
  train_tf.train = true;
  auto train_data = std::make_shared<const coco::DetectionDataset>(coco::DetectionDataset::load(
      train_split.images, train_split.annotations, train_tf, coco::OnCorrupt::skip));
  auto val_data = coco::DetectionDataset::load(val_split.images, val_split.annotations,
                                               cfg.val_transforms, coco::OnCorrupt::skip);
  models::DetectorConfig model = cfg.model;
  model.detr.num_classes = train_data->num_classes();
  model.validate();

  coco::LoaderConfig lc;
  lc.batch_size = cfg.batch_size;
  lc.num_workers = cfg.num_workers;
  lc.seed = cfg.seed;
  lc.drop_last = true;
  lc.gt_buckets = {8, 16, 32, 64, 128};
  lc.pad_multiple = cfg.pad_multiple;
  lc.rank = rank;
  lc.world_size = world;
  coco::Loader loader(train_data, lc);
  int64_t steps_per_epoch = loader.batches_per_epoch();
  if (cfg.max_steps_per_epoch > 0) {
    steps_per_epoch = std::min<int64_t>(steps_per_epoch, cfg.max_steps_per_epoch);
  }
  if (steps_per_epoch < 1) {
    throw std::invalid_argument(fmt::format(
        "[fit] {} training images give no batch of {}{}", train_data->size(),
        cfg.batch_size * world, world > 1 ? fmt::format(" ({} per process)", cfg.batch_size) : ""));
  }

  const std::string prefix = "model.";
  optim::AdamWConfig oc =
      models::detector_adamw_config(model, prefix, cfg.lr, cfg.weight_decay, cfg.backbone_lr_scale);
  if (cfg.lr_drop_epoch >= 0) {
    oc.lr = optim::multi_step(cfg.lr, {cfg.lr_drop_epoch * steps_per_epoch}, 0.1);
  }
  optim::AdamW opt(oc);

  // Parameters {"model", "probe"}; the probe only matters for match-free.
  array key = random::key(cfg.seed);
  Tree params{{"model", models::init_detector(random::fold_in(key, 1), model)},
              {"probe", detr::init_probe(random::fold_in(key, 2), model.detr.num_classes,
                                         model.detr.d_model)}};
  if (!cfg.init_from.empty()) {
    // Fine-tuning: the detector's weights from a checkpoint, everything
    // else (probe, optimiser, schedule) new.
    Checkpoint c = load_checkpoint(cfg.init_from);
    const Tree& from =
        c.params.is_dict() && c.params.dict().count("model") ? c.params["model"] : c.params;
    bool same = from.same_structure(params["model"]);
    if (same) {
      auto a = from.leaves(), b = params["model"].leaves();
      for (size_t i = 0; i < a.size() && same; ++i) {
        same = a[i].shape() == b[i].shape() && a[i].dtype() == b[i].dtype();
      }
    }
    if (!same) {
      throw std::invalid_argument(fmt::format(
          "[fit] init_from {}: its model parameters do not match the configured model (another "
          "preset, class count or query count?)",
          cfg.init_from));
    }
    params["model"] = from;
  }
  Tree state = opt.init(params);
  int64_t epoch0 = 0, step = 0;
  if (lead) fs::create_directories(cfg.out_dir);
  std::unique_ptr<MetricsLog> log;
  bool resumed = false;
  if (cfg.resume) {
    if (auto last = latest_checkpoint(cfg.out_dir)) {
      Checkpoint c = load_checkpoint(*last);
      params = c.params;
      state = c.opt_state;
      epoch0 = c.epoch;
      step = c.step;
      resumed = true;
    }
  }
  if (world > 1) {
    // Every process initialised (or loaded) the same values; rank 0's copy
    // is sent anyway so the replicas start bit-identical whatever happened.
    params = distributed::broadcast(params, 0);
    state = distributed::broadcast(state, 0);
    auto pos = distributed::broadcast(array({epoch0, step}, {2}, int64)).to_vector<int64_t>();
    epoch0 = pos[0];
    step = pos[1];
  }
  if (lead) {
    log = std::make_unique<MetricsLog>(resumed ? MetricsLog::resume(cfg.out_dir, step)
                                               : MetricsLog(cfg.out_dir));
  }
  params = on(params, device);
  state = on(state, device);

  StepConfig step_cfg;
  step_cfg.criterion = cfg.criterion;
  step_cfg.loss.model = model;
  step_cfg.loss.matchfree = cfg.matchfree;
  step_cfg.clip_max_norm = cfg.clip_max_norm;
  step_cfg.jit = cfg.jit;
  const double beta_q = step_cfg.loss.matchfree.beta_q;
  FitResult result;
  result.epochs_done = epoch0;
  std::unique_ptr<ProgressBar> bar;
  if (cfg.progress && lead) bar = std::make_unique<ProgressBar>(steps_per_epoch, cfg.epochs);

  for (int64_t epoch = epoch0; epoch < cfg.epochs; ++epoch) {
    loader.start_epoch(epoch);
    if (bar) bar->start_epoch(epoch);
    int64_t in_epoch = 0;
    while (in_epoch < steps_per_epoch) {
      auto batch = loader.next();
      if (world > 1) {
        // Every process runs the same steps: stop when any has run out (a
        // slice of corrupt images is skipped by its loader).
        const int64_t have = distributed::all_sum(array(batch ? 1 : 0, int32)).item<int64_t>();
        if (have < world) break;
      }
      if (!batch) break;
      if (cfg.fusion_report && lead && step == 0) {
        // What jit makes of this step, before the first (eager) update.
        const std::string dir = (fs::path(cfg.out_dir) / "fusion_report").string();
        write_step_fusion_report(params, to_detr(*batch, device), step_cfg.loss, cfg.criterion,
                                 dir);
        if (cfg.progress) fmt::print(stderr, "fusion report of the training step: {}\n", dir);
      }
      auto t0 = std::chrono::steady_clock::now();
      // Dropout differs per step (and per process) but is reproducible on resume.
      step_cfg.loss.dropout_seed = cfg.seed * 1000003 + static_cast<uint64_t>(step) +
                                   static_cast<uint64_t>(rank) * 0x9E3779B97F4A7C15ULL;
      // Probe warm-up: L_w alone until the probe's attention is sharp.
      step_cfg.loss.matchfree.beta_q = step < cfg.probe_warmup_steps ? 0.0 : beta_q;
      StepResult out;
      try {
        out = train_step(params, state, opt, to_detr(*batch, device), step_cfg, step);
      } catch (const NonFiniteError& e) {
        if (lead) {
          fmt::print(stderr, "{}\nstopping; the last good checkpoint is kept in {}\n", e.what(),
                     cfg.out_dir);
        }
        result.stopped_non_finite = true;
        return result;
      }
      ++step;
      ++in_epoch;
      result.last_loss = out.loss.item<double>();
      if (!lead) continue;
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      MetricsRow row{{"step", step},
                     {"epoch", epoch},
                     {"loss", result.last_loss},
                     {"grad_norm", out.grad_norm.item<double>()},
                     {"step_seconds", seconds}};
      ProgressValues shown{{"loss", result.last_loss}};
      for (auto& [path, leaf] : out.components.flatten()) {
        if (path.rfind("selected_per_gt_", 0) == 0) {
          // Mean number of queries the match-free loss trains per real GT:
          // the health of the sparse correspondence (1 = one-to-one).
          row.emplace_back(path, leaf.item<double>() / std::max(1.0, out.num_gt));
        } else if (path != "loss") {
          row.emplace_back(path, leaf.item<double>());
        }
      }
      log->log(row);
      if (bar) bar->update(in_epoch, out.images, shown);
    }
    if (bar) bar->finish_epoch();
    result.epochs_done = epoch + 1;
    result.steps = step;
    if (world > 1) {
      // Summed gradients give every replica the same update; re-sending rank
      // 0's copy once an epoch keeps them bit-equal even if a reduction
      // rounded differently on some process.
      params = distributed::broadcast(params, 0);
      state = distributed::broadcast(state, 0);
    }
    const bool evaluate =
        cfg.eval_every > 0 && ((epoch + 1) % cfg.eval_every == 0 || epoch + 1 == cfg.epochs);
    if (evaluate) {
      // Rank 0 evaluates; the others wait here for its numbers.
      if (lead) {
        result.last_stats = evaluate_detector(
            params["model"], model, val_data, cfg.batch_size,
            (fs::path(cfg.out_dir) / fmt::format("eval_epoch{}.json", epoch + 1)).string(), device);
      }
      if (world > 1) {
        auto got = distributed::broadcast(array(result.last_stats.data(), {12}, float64))
                       .to_vector<double>();
        std::copy(got.begin(), got.end(), result.last_stats.begin());
      }
    }
    if (!lead) continue;
    if (evaluate) {
      static const char* names[12] = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                      "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
      MetricsRow row{{"step", step}, {"epoch", epoch + 1}};
      for (int i = 0; i < 12; ++i) row.emplace_back(names[i], result.last_stats[i]);
      if (cfg.criterion == "matchfree" && cfg.collapse_images > 0) {
        // Has the probe collapsed (all GTs on one query, one-hot rows), and
        // has the detector (one top query for every image)?
        const detr::CollapseMetrics m = probe_collapse_metrics(
            params, model, cfg.matchfree, val_data, cfg.batch_size, cfg.collapse_images, device);
        row.emplace_back("matchfree_variant", detr::matchfree_variant(cfg.matchfree));
        row.emplace_back("collapse_shared_query_fraction", m.shared_query_fraction);
        row.emplace_back("collapse_distinct_queries_per_gt", m.distinct_queries_per_gt);
        row.emplace_back("collapse_top_query_mode_fraction", m.top_query_mode_fraction);
        row.emplace_back("collapse_saturated_row_fraction", m.saturated_row_fraction);
      }
      log->log(row);
    }
    // The metadata lets eval_coco / detect rebuild the model from the file,
    // and records the match-free settings (variant included) of the run.
    CheckpointInfo info =
        make_checkpoint_info(model, cfg.criterion, cfg.val_transforms, *train_data);
    if (cfg.criterion == "matchfree") info.matchfree = cfg.matchfree;
    save_checkpoint(cfg.out_dir, Checkpoint{on(params, Device::cpu()), on(state, Device::cpu()),
                                            key, epoch + 1, step, checkpoint_info_to_json(info)});
    // Curves so far.
    auto rows = read_metrics(log->jsonl_path());
    auto series = [&](const char* x, const char* y) {
      auto [xs, ys] = metric_series(rows, x, y);
      return Series{xs, ys};
    };
    plot_lines((fs::path(cfg.out_dir) / "loss.png").string(), {{"loss", series("step", "loss")}},
               {.title = "training loss", .x_label = "step", .y_label = "loss"});
    plot_lines((fs::path(cfg.out_dir) / "ap.png").string(),
               {{"AP", series("epoch", "AP")}, {"AP50", series("epoch", "AP50")}},
               {.title = "validation AP", .x_label = "epoch", .y_label = "AP"});
  }
  return result;
}

}  // namespace mfx::train

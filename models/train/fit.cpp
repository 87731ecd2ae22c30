// train::fit (see include/mfx/train/fit.h): the run's setup (data, model,
// optimiser, parameters new, fine-tuned or resumed), then per epoch the
// steps, the evaluation, the results line and the checkpoints.
#include "mfx/train/fit.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <numeric>
#include <optional>

#include "device_moves.h"
#include "device_scope.h"
#include "io/atomic_file.h"
#include "mfx/coco/eval.h"
#include "mfx/coco/loader.h"
#include "mfx/distributed.h"
#include "mfx/mfx.h"
#include "mfx/train/step_report.h"
#include "mfx/train/train.h"

namespace mfx::train {

namespace fs = std::filesystem;
using detail::on;
using detail::to_detr;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Everything a run holds from its setup to its end.
struct Run {
  explicit Run(const FitConfig& c) : cfg(c) {}
  const FitConfig& cfg;
  int rank = 0, world = 1;
  bool lead = true;
  std::shared_ptr<const coco::DetectionDataset> train_data;
  std::optional<coco::DetectionDataset> val_data;
  detr::DetectorConfig model;
  std::unique_ptr<coco::Loader> loader;
  int64_t steps_per_epoch = 0;
  optim::Schedule lr;  // the base rate per step (groups scale it)
  std::optional<optim::AdamW> opt;
  array key;
  Tree params, state;
  int64_t epoch0 = 0, step = 0;
  std::unique_ptr<MetricsLog> log;
  StepConfig step_cfg;
  StepConfig warmup_cfg;  // the probe warm-up's steps: step_cfg with beta_q = 0
  std::unique_ptr<ProgressBar> bar;
  double eval_seconds = -1;  // the last evaluation's duration (-1: none yet)
  int64_t saved_epoch = -1, saved_step = 0;  // what last.safetensors holds (-1: nothing)
};

// Writes last.safetensors (and best / also_as) from host copies; remembers
// what it holds, so a diverged run can say where to continue from.
void save(Run& run, int64_t epoch, bool best, const std::string& also_as = "") {
  const FitConfig& cfg = run.cfg;
  // The metadata lets eval_coco / detect rebuild the model from the file,
  // and records the match-free settings (variant included) of the run.
  CheckpointInfo info =
      make_checkpoint_info(run.model, cfg.criterion, cfg.val_transforms, *run.train_data);
  if (cfg.criterion == criteria::Criterion::matchfree) info.matchfree = cfg.matchfree;
  save_checkpoint(cfg.out_dir,
                  Checkpoint{on(run.params, Device::cpu()), on(run.state, Device::cpu()), run.key,
                             epoch, run.step, checkpoint_info_to_json(info)},
                  best, also_as);
  run.saved_epoch = epoch;
  run.saved_step = run.step;
}

// Loads the data and makes (or loads) the parameters and optimiser state.
void set_up(Run& run, FitResult& result) {
  const FitConfig& cfg = run.cfg;
  run.rank = distributed::rank();
  run.world = distributed::world_size();
  run.lead = run.rank == 0;
  const coco::SplitPaths train_split = coco::find_split(cfg.data_dir, "train");
  const coco::SplitPaths val_split = coco::find_split(cfg.data_dir, "val");
  coco::TransformConfig train_tf = cfg.train_transforms;
  train_tf.train = true;
  run.train_data = std::make_shared<const coco::DetectionDataset>(coco::DetectionDataset::load(
      train_split.images, train_split.annotations, train_tf, coco::OnCorrupt::skip));
  run.val_data.emplace(coco::DetectionDataset::load(val_split.images, val_split.annotations,
                                                    cfg.val_transforms, coco::OnCorrupt::skip));
  run.model = cfg.model;
  run.model.detr.num_classes = run.train_data->num_classes();
  run.model.validate();

  coco::LoaderConfig lc;
  lc.batch_size = cfg.batch_size;
  lc.num_workers = cfg.num_workers;
  lc.seed = cfg.seed;
  lc.drop_last = true;
  lc.gt_buckets = {8, 16, 32, 64, 128};
  lc.pad_multiple = cfg.pad_multiple;
  lc.rank = run.rank;
  lc.world_size = run.world;
  run.loader = std::make_unique<coco::Loader>(run.train_data, lc);
  run.steps_per_epoch = run.loader->batches_per_epoch();
  if (cfg.max_steps_per_epoch > 0) {
    run.steps_per_epoch = std::min<int64_t>(run.steps_per_epoch, cfg.max_steps_per_epoch);
  }
  if (run.steps_per_epoch < 1) {
    throw std::invalid_argument(fmt::format(
        "[fit] {} training images give no batch of {}{}", run.train_data->size(),
        cfg.batch_size * run.world,
        run.world > 1 ? fmt::format(" ({} per process)", cfg.batch_size) : ""));
  }

  optim::AdamWConfig oc = detr::detector_adamw_config(run.model, "model.", cfg.lr, cfg.weight_decay,
                                                      cfg.backbone_lr_scale);
  if (cfg.lr_drop_epoch >= 0) {
    oc.lr = optim::multi_step(cfg.lr, {cfg.lr_drop_epoch * run.steps_per_epoch}, 0.1);
  }
  run.lr = oc.lr;
  run.opt.emplace(oc);

  // Parameters {"model", "probe"}; the probe only matters for match-free.
  run.key = random::key(cfg.seed);
  run.params =
      Tree{{"model", detr::init_detector(random::fold_in(run.key, 1), run.model)},
           {"probe", criteria::init_probe(random::fold_in(run.key, 2), run.model.detr.num_classes,
                                          run.model.detr.d_model)}};
  if (!cfg.init_from.empty()) {
    // Fine-tuning: the detector's weights from a checkpoint, everything
    // else (probe, optimiser, schedule) new.
    Checkpoint c = load_checkpoint(cfg.init_from);
    const Tree& from =
        c.params.is_dict() && c.params.dict().count("model") ? c.params["model"] : c.params;
    bool same = from.same_structure(run.params["model"]);
    if (same) {
      auto a = from.leaves(), b = run.params["model"].leaves();
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
    run.params["model"] = from;
  }
  run.state = run.opt->init(run.params);
  if (run.lead) {
    fs::create_directories(cfg.out_dir);
    io::AtomicFile args((fs::path(cfg.out_dir) / "args.json").string(), "fit");
    const std::string text = fit_config_json(cfg);
    args.write(text.data(), text.size());
    args.commit();
  }
  if (cfg.resume) {
    if (auto last = latest_checkpoint(cfg.out_dir)) {
      Checkpoint c = load_checkpoint(*last);
      run.params = c.params;
      run.state = c.opt_state;
      run.epoch0 = c.epoch;
      run.step = c.step;
      result.resumed = true;
      if (run.lead && cfg.progress) {
        fmt::print(stderr, "resuming from epoch {} of {}\n", run.epoch0, *last);
      }
    } else if (!cfg.resume_or_start) {
      throw std::invalid_argument(fmt::format(
          "[fit] resume: {} holds no checkpoint ({}); resume_or_start starts a new run instead",
          cfg.out_dir, last_checkpoint_file));
    } else if (run.lead && cfg.progress) {
      fmt::print(stderr, "no checkpoint in {}: starting a new run\n", cfg.out_dir);
    }
  }
  if (run.world > 1) {
    // Every process initialised (or loaded) the same values; rank 0's copy
    // is sent anyway so the replicas start bit-identical whatever happened.
    run.params = distributed::broadcast(run.params, 0);
    run.state = distributed::broadcast(run.state, 0);
    auto pos = distributed::broadcast(array({run.epoch0, run.step}, {2}, int64))
                   .to_vector<int64_t>();
    run.epoch0 = pos[0];
    run.step = pos[1];
  }
  if (run.lead) {
    run.log = std::make_unique<MetricsLog>(
        result.resumed ? MetricsLog::resume(cfg.out_dir, run.step) : MetricsLog(cfg.out_dir));
    if (result.resumed) {
      // The best evaluation so far, so best.safetensors is only replaced by a better one.
      for (const auto& row : read_metrics(run.log->jsonl_path())) {
        double ap = -1, epoch = 0;
        for (const auto& [k, v] : row) {
          if (k == "AP" && v.is_number()) ap = v.number();
          if (k == "epoch" && v.is_number()) epoch = v.number();
        }
        if (ap > result.best_ap) {
          result.best_ap = ap;
          result.best_epoch = static_cast<int64_t>(epoch);
        }
      }
    }
  }
  run.params = on(run.params, cfg.device);
  run.state = on(run.state, cfg.device);

  run.step_cfg.criterion = cfg.criterion;
  run.step_cfg.loss.model = run.model;
  run.step_cfg.loss.matchfree = cfg.matchfree;
  run.step_cfg.clip_max_norm = cfg.clip_max_norm;
  run.step_cfg.jit = cfg.jit;
  run.warmup_cfg = run.step_cfg;
  run.warmup_cfg.loss.matchfree.beta_q = 0;
  result.epochs_done = run.epoch0;
  result.steps = run.step;
  if (cfg.progress && run.lead) {
    run.bar = std::make_unique<ProgressBar>(run.steps_per_epoch, cfg.epochs);
  }
}

// What one epoch of steps did (on the lead process).
struct EpochSteps {
  int64_t steps = 0;
  double loss_sum = 0, seconds = 0;
  bool stopped_non_finite = false;
};

EpochSteps train_epoch(Run& run, int64_t epoch, FitResult& result) {
  const FitConfig& cfg = run.cfg;
  const Device device = cfg.device;
  EpochSteps e;
  const auto t0 = std::chrono::steady_clock::now();
  std::deque<double> recent;  // the progress line shows the mean of the last 20 losses
  run.loader->start_epoch(epoch);
  if (run.bar) run.bar->start_epoch(epoch);
  while (e.steps < run.steps_per_epoch) {
    auto batch = run.loader->next();
    if (run.world > 1) {
      // Every process runs the same steps: stop when any has run out (a
      // slice of corrupt images is skipped by its loader).
      const int64_t have = distributed::all_sum(array(batch ? 1 : 0, int32)).item<int64_t>();
      if (have < run.world) break;
    }
    if (!batch) break;
    if (cfg.fusion_report && run.lead && run.step == 0) {
      // What jit makes of this step, before the first (eager) update.
      const std::string dir = (fs::path(cfg.out_dir) / "fusion_report").string();
      write_step_fusion_report(run.params, to_detr(*batch, device), run.step_cfg.loss,
                               cfg.criterion, dir);
      if (cfg.progress) fmt::print(stderr, "fusion report of the training step: {}\n", dir);
    }
    const auto ts = std::chrono::steady_clock::now();
    // Dropout differs per step (and per process) but is reproducible on resume.
    const detr::StepInputs inputs{
        .dropout_key = random::key(cfg.seed * 1000003 + static_cast<uint64_t>(run.step) +
                                   static_cast<uint64_t>(run.rank) * 0x9E3779B97F4A7C15ULL),
        .criterion = {}};
    // Probe warm-up: L_w alone until the probe's attention is sharp.
    const StepConfig& step_cfg = run.step < cfg.probe_warmup_steps ? run.warmup_cfg : run.step_cfg;
    const double lr = run.lr(run.step);
    StepResult out;
    try {
      out = train_step(run.params, run.state, *run.opt, to_detr(*batch, device), step_cfg, run.step,
                       inputs);
    } catch (const NonFiniteError& err) {
      if (run.lead) {
        if (run.bar) run.bar->finish_epoch();
        fmt::print(stderr,
                   "training diverged at step {} (epoch {}): {}\nstopped; the last good "
                   "checkpoint is {} (epoch {}, step {}): continue from it with --resume and a "
                   "lower --lr, or fix the data\n",
                   run.step + 1, epoch + 1, err.what(),
                   (fs::path(cfg.out_dir) / last_checkpoint_file).string(), run.saved_epoch,
                   run.saved_step);
      }
      e.stopped_non_finite = true;
      return e;
    }
    ++run.step;
    ++e.steps;
    result.last_loss = out.loss.item<double>();
    e.loss_sum += result.last_loss;
    if (!run.lead) continue;
    MetricsRow row{{"step", run.step},
                   {"epoch", epoch + 1},
                   {"loss", result.last_loss},
                   {"lr", lr},
                   {"grad_norm", out.grad_norm.item<double>()},
                   {"step_seconds", seconds_since(ts)}};
    for (auto& [path, leaf] : out.components.flatten()) {
      if (path.rfind("selected_per_gt_", 0) == 0) {
        // Mean number of queries the match-free loss trains per real GT:
        // the health of the sparse correspondence (1 = one-to-one).
        row.emplace_back(path, leaf.item<double>() / std::max(1.0, out.num_gt));
      } else if (path != "loss") {
        row.emplace_back(path, leaf.item<double>());
      }
    }
    run.log->log(row);
    recent.push_back(result.last_loss);
    if (recent.size() > 20) recent.pop_front();
    if (run.bar) {
      const double smooth =
          std::accumulate(recent.begin(), recent.end(), 0.0) / static_cast<double>(recent.size());
      run.bar->update(e.steps, out.images, {{"loss", smooth}, {"lr", lr}});
    }
  }
  if (run.bar) run.bar->finish_epoch();
  e.seconds = seconds_since(t0);
  return e;
}

std::string percent(double stat) { return stat < 0 ? "-" : fmt::format("{:.1f}", 100 * stat); }

}  // namespace

FitResult fit(const FitConfig& cfg) {
  check_fit_config(cfg);
  // A GPU run: ops run there from here on (throws when there is none).
  detail::DefaultDeviceScope device_scope(cfg.device);
  FitResult result;
  Run run(cfg);
  set_up(run, result);
  if (result.resumed) {
    run.saved_epoch = run.epoch0;
    run.saved_step = run.step;
  } else if (run.lead) {
    // A checkpoint before the first step: a run that diverges in its first
    // epoch still has one to continue from.
    save(run, 0, false);
  }

  for (int64_t epoch = run.epoch0; epoch < cfg.epochs; ++epoch) {
    const auto eval_every = static_cast<int64_t>(cfg.eval_every);
    auto evaluations_from = [&](int64_t first) {  // evaluations in epochs first..epochs-1
      int64_t n = 0;
      for (int64_t k = first; k < cfg.epochs && eval_every > 0; ++k) {
        n += (k + 1) % eval_every == 0 || k + 1 == cfg.epochs;
      }
      return n;
    };
    if (run.bar && run.eval_seconds >= 0) {
      run.bar->set_extra_seconds(run.eval_seconds * static_cast<double>(evaluations_from(epoch)));
    }
    const EpochSteps steps = train_epoch(run, epoch, result);
    if (steps.stopped_non_finite) {
      result.stopped_non_finite = true;
      return result;
    }
    result.epochs_done = epoch + 1;
    result.steps = run.step;
    if (run.world > 1) {
      // Summed gradients give every replica the same update; re-sending rank
      // 0's copy once an epoch keeps them bit-equal even if a reduction
      // rounded differently on some process.
      run.params = distributed::broadcast(run.params, 0);
      run.state = distributed::broadcast(run.state, 0);
    }
    const bool evaluate =
        eval_every > 0 && ((epoch + 1) % eval_every == 0 || epoch + 1 == cfg.epochs);
    double eval_seconds = 0;
    if (evaluate) {
      // Rank 0 evaluates; the others wait here for its numbers.
      const auto t0 = std::chrono::steady_clock::now();
      if (run.lead) {
        result.last_stats = evaluate_detector(
            run.params["model"], run.model, *run.val_data, cfg.batch_size,
            (fs::path(cfg.out_dir) / fmt::format("eval_epoch{}.json", epoch + 1)).string(),
            cfg.device);
      }
      if (run.world > 1) {
        auto got = distributed::broadcast(array(result.last_stats.data(), {12}, float64))
                       .to_vector<double>();
        std::copy(got.begin(), got.end(), result.last_stats.begin());
      }
      eval_seconds = seconds_since(t0);
      run.eval_seconds = eval_seconds;
    }
    if (!run.lead) continue;
    const double mean_loss =
        steps.steps > 0 ? steps.loss_sum / static_cast<double>(steps.steps) : result.last_loss;
    const double lr = run.lr(std::max<int64_t>(run.step - 1, 0));
    bool best = false;
    if (evaluate) {
      const auto& names = coco::summary_names();
      MetricsRow row{{"step", run.step},
                     {"epoch", epoch + 1},
                     {"lr", lr},
                     {"loss_mean", mean_loss},
                     {"train_seconds", steps.seconds},
                     {"eval_seconds", eval_seconds}};
      for (int i = 0; i < 12; ++i) row.emplace_back(names[i], result.last_stats[i]);
      if (cfg.criterion == criteria::Criterion::matchfree && cfg.collapse_images > 0) {
        // Has the probe collapsed (all GTs on one query, one-hot rows), and
        // has the detector (one top query for every image)?
        const criteria::CollapseMetrics m =
            probe_collapse_metrics(run.params, run.model, cfg.matchfree, *run.val_data,
                                   cfg.batch_size, cfg.collapse_images, cfg.device);
        row.emplace_back("matchfree_variant", criteria::matchfree_variant(cfg.matchfree));
        row.emplace_back("collapse_shared_query_fraction", m.shared_query_fraction);
        row.emplace_back("collapse_distinct_queries_per_gt", m.distinct_queries_per_gt);
        row.emplace_back("collapse_top_query_mode_fraction", m.top_query_mode_fraction);
        row.emplace_back("collapse_saturated_row_fraction", m.saturated_row_fraction);
      }
      run.log->log(row);
      if (result.last_stats[0] > result.best_ap) {
        result.best_ap = result.last_stats[0];
        result.best_epoch = epoch + 1;
        best = true;
      }
    }
    if (cfg.progress) {
      std::string line =
          fmt::format("epoch {}/{} | loss {:.4g} (mean) | lr {:.1e}", epoch + 1, cfg.epochs,
                      mean_loss, lr);
      if (evaluate) {
        line += fmt::format(" | AP {} AP50 {} AP75 {} | best AP {} @ {}",
                            percent(result.last_stats[0]), percent(result.last_stats[1]),
                            percent(result.last_stats[2]), percent(result.best_ap),
                            result.best_epoch);
      }
      line += fmt::format(" | {:.0f} s train", steps.seconds);
      if (evaluate) line += fmt::format(" + {:.0f} s eval", eval_seconds);
      fmt::print("{}\n", line);
      std::fflush(stdout);
    }
    const bool keep = cfg.save_every > 0 && (epoch + 1) % cfg.save_every == 0;
    save(run, epoch + 1, best,
         keep ? fmt::format("epoch{}.safetensors", epoch + 1) : std::string());
    // Curves so far.
    auto rows = read_metrics(run.log->jsonl_path());
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

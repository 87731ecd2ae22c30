// Trains a Deformable DETR detector with the Hungarian criterion or the
// match-free (CAQS) loss and evaluates it with COCOeval after every epoch.
// `train_coco --help` lists every flag with its default.
//
// Without --data a deterministic synthetic COCO-format set is generated in
// OUT/synthetic first. Every argument is checked before any work. OUT then
// holds args.json (the resolved configuration), last.safetensors (every
// epoch; --resume continues it), best.safetensors (best validation AP),
// metrics.jsonl / metrics.csv, loss.png, ap.png and the detections of every
// evaluation; with --fusion-report, what jit makes of the training step.
// Under `mpirun -np N` training is data parallel over N processes
// (--batch-size is per process); rank 0 prints and writes the files.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "flags.h"
#include "mfx/coco/eval.h"
#include "mfx/coco/synthetic.h"
#include "mfx/cpu.h"
#include "mfx/distributed.h"
#include "mfx/gpu.h"
#include "mfx/train/checkpoint.h"
#include "mfx/train/fit.h"
#include "mfx/train/preset.h"

using namespace mfx;

namespace {

// What the flags set besides FitConfig itself.
struct Options {
  std::string preset = "scratch", device = "cpu", out = "train_out", resume;
  int image_size = 0;
  int pad_multiple = -1, train_stem = -1, two_stage = -1, zero_init = -1;
  std::string backbone_norm;
};

// The value of `--name V` (or `--name=V`) in argv, if any: the preset and
// image size are read before the flags, so every other flag's default (and
// --help) shows the chosen preset's value.
std::string pre_scan(int argc, char** argv, const std::string& name) {
  std::string value;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == name && i + 1 < argc) value = argv[i + 1];
    if (a.rfind(name + "=", 0) == 0) value = a.substr(name.size() + 1);
  }
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  // A group of one without mpirun.
  try {
    distributed::init();
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_coco: {}\n", e.what());
    return 1;
  }
  const bool lead = distributed::rank() == 0;
  Options o;
  train::Preset preset;
  try {
    if (auto name = pre_scan(argc, argv, "--preset"); !name.empty()) o.preset = name;
    if (auto size = pre_scan(argc, argv, "--image-size"); !size.empty()) {
      o.image_size = std::stoi(size);
    }
    preset = train::make_preset(o.preset, o.image_size);
  } catch (const std::exception&) {
    // The flags below report the bad value with the allowed ones.
    preset = train::make_preset("scratch");
  }
  train::FitConfig cfg = preset.fit;
  coco::SyntheticConfig& synthetic = preset.synthetic;
  examples::Flags flags(
      "train_coco",
      "Trains a Deformable DETR detector on a COCO-format folder (or a generated\n"
      "synthetic set) and evaluates it with COCOeval after every epoch.");
  flags.group("data and output");
  flags.text("--data", "DIR", cfg.data_dir,
             "COCO folder (train2017/, val2017/, annotations/) or the synthetic layout; "
             "default: generate OUT/synthetic");
  flags.text("--out", "DIR", o.out, "output folder");
  flags.number("--train-images", "N", synthetic.num_train, "images of the generated training split",
               1);
  flags.number("--val-images", "N", synthetic.num_val, "images of the generated validation split",
               1);
  flags.number("--image-size", "N", o.image_size,
               "scratch/small: image size of the generated set and the transforms", 32, 4096,
               "128 scratch, 160 small");
  flags.number("--max-objects", "N", synthetic.max_objects, "objects per generated image, at most",
               0, 100);
  flags.number("--p-small", "P", synthetic.p_small,
               "generated objects: weight of the small size class (medium 0.4, large 0.25)", 0.0,
               1.0);
  flags.number("--max-overlap", "X", synthetic.max_box_overlap,
               "generated objects: largest share of a box another may cover (1: any)", 0.0, 1.0);
  flags.number("--distractors", "N", synthetic.max_distractor_lines,
               "generated images: unannotated lines, at most", 0, 100);
  flags.number("--workers", "N", cfg.num_workers, "loader threads", 0, 64);
  flags.group("model and schedule");
  flags.text("--preset", "NAME", o.preset,
             "scratch (CPU detector, backbone from scratch), small (CPU detector, the reference's "
             "frozen backbone choices) or r50 (the reference ResNet-50 configuration); the "
             "defaults shown are the chosen preset's",
             train::preset_names());
  flags.number("--queries", "N", cfg.model.detr.num_queries, "decoder queries", int64_t{1},
               int64_t{INT32_MAX});
  flags.number("--dropout", "P", cfg.model.detr.dropout, "transformer dropout", 0.0, 0.99);
  flags.number("--two-stage", "0|1", o.two_stage,
               "queries from the encoder's best proposals (an extension beyond the paper)", 0, 1,
               cfg.model.detr.two_stage ? "1" : "0");
  flags.number("--epochs", "N", cfg.epochs, "epochs", 1);
  flags.number("--max-steps", "N", cfg.max_steps_per_epoch, "steps per epoch at most (-1: all)",
               -1);
  flags.number("--batch-size", "N", cfg.batch_size, "images per step and process", 1);
  flags.number("--lr", "X", cfg.lr, "learning rate, x0.1 after 2/3 (r50: 4/5) of the epochs", 1e-12,
               1e3);
  flags.number("--backbone-lr-scale", "X", cfg.backbone_lr_scale,
               "backbone learning-rate factor (the reference's 0.1 suits a pretrained one)", 0.0,
               1e3);
  flags.number("--train-stem", "0|1", o.train_stem, "also train the stem and layer1", 0, 1,
               cfg.model.backbone.train_stem_and_layer1 ? "1" : "0");
  o.backbone_norm = resnet::to_string(cfg.model.backbone.norm);
  flags.text("--backbone-norm", "NAME", o.backbone_norm,
             "frozen_batch_norm (for pretrained weights) or group_norm (trained from scratch)",
             {"frozen_batch_norm", "group_norm"});
  flags.number("--zero-init-residual", "0|1", o.zero_init,
               "group_norm: each residual branch's last norm starts at 0", 0, 1,
               cfg.model.backbone.zero_init_residual ? "1" : "0");
  flags.number("--clip", "X", cfg.clip_max_norm, "gradient-norm clip", 1e-12);
  flags.number("--seed", "N", cfg.seed, "seed of the data, the weights and dropout");
  flags.group("criterion");
  flags.add("--criterion", "hungarian|matchfree", criteria::to_string(cfg.criterion),
            "training criterion", [&](const std::string& v) {
              cfg.criterion = criteria::parse_criterion(v, "--criterion");
            });
  flags.number("--rho", "X", cfg.matchfree.rho, "match-free: sparsity ratio rho, in (0, 1]");
  flags.number("--alpha-w", "X", cfg.matchfree.alpha_w, "match-free: weight of L_w", 0.0);
  flags.add("--normalization", "sum|max|none", "sum",
            "match-free: row normalisation of the sparse correspondence",
            [&](const std::string& v) {
              cfg.matchfree.norm = criteria::parse_norm(v, "--normalization");
            });
  flags.number("--probe-warmup", "STEPS", cfg.probe_warmup_steps,
               "match-free: only L_w (the probe) trains for the first steps", int64_t{0});
  flags.number("--collapse-images", "N", cfg.collapse_images,
               "match-free: validation images for the collapse metrics (0: off)", 0);
  flags.group("match-free variants (extensions beyond the paper; defaults are the paper's)");
  flags.add("--probe-logits", "scaled|cosine", "scaled",
            "cosine: s*cos(Q_i, K_j) probe logits instead of QK^T/sqrt(W)",
            [&](const std::string& v) {
              cfg.matchfree.probe_logits = criteria::parse_probe_logits(v, "--probe-logits");
            });
  flags.number("--cosine-scale", "S", cfg.matchfree.cosine_scale, "s of the cosine logits");
  flags.add("--probe-attention", "softmax|sinkhorn", "softmax",
            "sinkhorn: log-space Sinkhorn rounds instead of the row softmax",
            [&](const std::string& v) {
              cfg.matchfree.attention = criteria::parse_attention(v, "--probe-attention");
            });
  flags.number("--sinkhorn-iters", "T", cfg.matchfree.sinkhorn_iters, "Sinkhorn rounds", 1);
  flags.add("--selection", "threshold|greedy", "threshold",
            "greedy: one distinct query per GT, greedy on log A", [&](const std::string& v) {
              cfg.matchfree.selection = criteria::parse_selection(v, "--selection");
            });
  flags.group("running");
  flags.text("--init-from", "CKPT", cfg.init_from,
             "start from a checkpoint's model weights (new probe, optimiser, schedule)");
  flags.text("--device", "cpu|gpu|gpu:N", o.device, "where training runs");
  flags.on("--jit", "train through the jitted step", [&] { cfg.jit = true; });
  flags.number("--pad-multiple", "N", o.pad_multiple,
               "pad batch heights and widths to a multiple (fewer shapes to compile)", 1, 4096,
               "32 with --jit, else 1");
  flags.number("--save-every", "N", cfg.save_every,
               "also keep OUT/epoch<N>.safetensors every N epochs (0: never)", 0);
  flags.on("--fusion-report", "write OUT/fusion_report/: what jit makes of the training step",
           [&] { cfg.fusion_report = true; });
  // --resume takes an optional value: rewrite "--resume" alone to "--resume yes".
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--resume" && (i + 1 == args.size() || args[i + 1].rfind("--", 0) == 0)) {
      args.insert(args.begin() + static_cast<long>(i) + 1, "yes");
    }
  }
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  flags.add("--resume", "[auto]", "",
            "continue OUT/last.safetensors (an error without one); --resume auto starts a new "
            "run when there is none",
            [&](const std::string& v) {
              if (v != "yes" && v != "auto")
                throw std::invalid_argument("takes no value or 'auto'");
              cfg.resume = true;
              cfg.resume_or_start = v == "auto";
            });
  flags.parse(static_cast<int>(argp.size()), argp.data());

  try {
    cfg.device = Device::parse(o.device);
    // Under mpirun, "gpu" means one GPU per process.
    if (o.device == "gpu") cfg.device = Device::gpu(distributed::rank() % gpu::device_count());
  } catch (const std::exception& e) {
    flags.fail(std::string("--device: ") + e.what());
  }
  cfg.out_dir = o.out;
  // A jitted step compiles once per batch shape: pad to multiples of 32 by
  // default so multi-scale batches share a few shapes.
  cfg.pad_multiple = o.pad_multiple > 0 ? o.pad_multiple : (cfg.jit ? 32 : 1);
  preset.fit.epochs = cfg.epochs;
  apply_schedule(preset);
  cfg.lr_drop_epoch = preset.fit.lr_drop_epoch;
  if (o.train_stem >= 0) cfg.model.backbone.train_stem_and_layer1 = o.train_stem != 0;
  if (o.two_stage >= 0) cfg.model.detr.two_stage = o.two_stage != 0;
  if (o.zero_init >= 0) cfg.model.backbone.zero_init_residual = o.zero_init != 0;
  cfg.model.backbone.norm = resnet::parse_backbone_norm(o.backbone_norm, "--backbone-norm");
  // A preset's zero init follows its norm unless asked for explicitly.
  if (cfg.model.backbone.norm != resnet::BackboneNorm::group_norm && o.zero_init < 0) {
    cfg.model.backbone.zero_init_residual = false;
  }
  const bool generate = cfg.data_dir.empty();
  if (generate) cfg.data_dir = (std::filesystem::path(o.out) / "synthetic").string();
  // Everything is checked before data is generated or loaded.
  try {
    train::check_fit_config(cfg);
  } catch (const std::invalid_argument& e) {
    flags.fail(e.what());
  }
  if (cfg.resume && !cfg.resume_or_start && !train::latest_checkpoint(o.out)) {
    flags.fail(
        fmt::format("--resume: {} holds no checkpoint (--resume auto starts a new run)", o.out));
  }
  try {
    if (generate) {
      coco::SyntheticConfig sc = synthetic;
      sc.seed = cfg.seed;
      // Rank 0 writes the set; the others read it once it is complete.
      if (lead) {
        auto s = coco::write_synthetic_coco(cfg.data_dir, sc);
        fmt::print(
            "synthetic set in {}: {} train / {} val images, {} objects "
            "({} small, {} medium, {} large)\n",
            cfg.data_dir, s.train_images, s.val_images, s.annotations, s.small, s.medium, s.large);
      }
      distributed::barrier();
    }
    const int world = distributed::world_size();
    if (lead && world > 1) {
      fmt::print("data parallel over {} processes (global batch {})\n", world,
                 cfg.batch_size * world);
    }
    if (lead)
      fmt::print("training {} preset with the {} criterion{} for {} epochs (batch {}) -> {}\n",
                 o.preset, criteria::to_string(cfg.criterion),
                 cfg.criterion == criteria::Criterion::matchfree
                     ? " [" + criteria::matchfree_variant(cfg.matchfree) + "]"
                     : std::string(),
                 cfg.epochs, cfg.batch_size, o.out);
    auto r = train::fit(cfg);
    if (lead) {
      fmt::print("\nfinal COCO metrics in percent ({} epochs, {} steps, last loss {:.4f}):\n{}",
                 r.epochs_done, r.steps, r.last_loss, coco::format_summary_table(r.last_stats, 6));
      if (r.best_epoch > 0) {
        fmt::print("best AP {:.1f} at epoch {}: {}/best.safetensors\n", 100 * r.best_ap,
                   r.best_epoch, o.out);
      }
    }
    return r.stopped_non_finite ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_coco: {}\n", e.what());
    return 1;
  }
}

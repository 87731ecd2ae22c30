// Trains a Deformable DETR detector with the match-free (CAQS) or the
// Hungarian criterion and evaluates it with COCOeval every epoch.
//
//   train_coco [--data DIR] [--criterion matchfree|hungarian] [--preset small|r50]
//              [--epochs N] [--batch-size N] [--lr X] [--image-size N] [--workers N] [--queries N]
//              [--seed N] [--max-steps N] [--resume] [--out DIR] [--device cpu|gpu|gpu:N]
//              [--train-images N] [--val-images N] [--backbone-lr-scale X] [--train-stem 0|1]
//              [--no-fusion-report] [--jit] [--pad-multiple N] [--init-from CKPT] [--probe-warmup
//              STEPS] [--rho X] [--alpha-w X] [--clip X]
//              [--probe-logits scaled|cosine] [--cosine-scale S] [--probe-attention
//              softmax|sinkhorn] [--sinkhorn-iters T] [--selection threshold|greedy]
//              [--collapse-images N]
//
// The last line's flags select match-free variants, extensions beyond the
// paper against its collapse (the defaults are the paper's loss): cosine
// probe logits bounded by S, Sinkhorn attention (T rounds), greedy
// one-query-per-GT selection; --collapse-images sets how many validation
// images the per-evaluation collapse metrics use (0: off).
//
// Without --data a deterministic synthetic COCO-format set is generated in
// OUT/synthetic first. --max-steps caps the steps of every epoch (quick
// checks and tests). Before the first step the training step is compiled once
// with jit and its fusion report written to OUT/fusion_report (training itself
// runs eagerly unless --jit; --no-fusion-report skips it). --jit trains
// through the jitted step (compiled once per batch shape; batches are then
// padded to multiples of --pad-multiple, default 32). The output folder receives checkpoints,
// metrics.jsonl / metrics.csv, loss.png, ap.png and COCO results per evaluation. Under `mpirun -np
// N` training is data parallel over N processes (--batch-size is per process); rank 0 prints and
// writes the files.
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "mfx/coco/eval.h"
#include "mfx/coco/synthetic.h"
#include "mfx/distributed.h"
#include "mfx/gpu.h"
#include "mfx/train/fit.h"

using namespace mfx;

namespace {

[[noreturn]] void usage(const std::string& error) {
  fmt::print(stderr,
             "{}\nusage: train_coco [--data DIR] [--criterion matchfree|hungarian] "
             "[--preset small|r50] [--epochs N] [--batch-size N] [--lr X] [--image-size N] "
             "[--workers N] [--queries N] [--seed N] [--max-steps N] [--resume] [--out DIR] "
             "[--device cpu|gpu|gpu:N] [--train-images N] [--val-images N] [--backbone-lr-scale X] "
             "[--train-stem 0|1] [--no-fusion-report] [--jit] [--pad-multiple N] [--init-from "
             "CKPT] [--probe-warmup STEPS] [--rho X] [--alpha-w X] [--clip X]\n"
             "match-free variants (extensions beyond the paper; defaults are the paper's): "
             "[--probe-logits scaled|cosine] [--cosine-scale S] [--probe-attention "
             "softmax|sinkhorn] [--sinkhorn-iters T] [--selection threshold|greedy] "
             "[--collapse-images N]\n",
             error);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  // A group of one without mpirun.
  try {
    distributed::init();
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_coco: {}\n", e.what());
    return 1;
  }
  const bool lead = distributed::rank() == 0;
  train::FitConfig cfg;
  // The Hungarian criterion is the default here: on the small CPU preset it
  // learns (docs/results.md §6.2); the match-free loss does not
  // in this budget.
  cfg.criterion = "hungarian";
  cfg.fusion_report = true;
  std::string preset = "small", device = "cpu";
  std::string out = "train_out";
  int image_size = 160;
  int queries = -1;
  int train_images = 256, val_images = 64;
  cfg.epochs = 30;
  cfg.batch_size = 4;
  double lr = -1, backbone_lr_scale = -1;
  int train_stem = -1;
  int pad_multiple = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--data")
        cfg.data_dir = value();
      else if (a == "--criterion")
        cfg.criterion = value();
      else if (a == "--preset")
        preset = value();
      else if (a == "--epochs")
        cfg.epochs = std::stoi(value());
      else if (a == "--batch-size")
        cfg.batch_size = std::stoi(value());
      else if (a == "--lr")
        lr = std::stod(value());
      else if (a == "--image-size")
        image_size = std::stoi(value());
      else if (a == "--workers")
        cfg.num_workers = std::stoi(value());
      else if (a == "--queries")
        queries = std::stoi(value());
      else if (a == "--backbone-lr-scale")
        backbone_lr_scale = std::stod(value());
      else if (a == "--train-stem")
        train_stem = std::stoi(value());
      else if (a == "--train-images")
        train_images = std::stoi(value());
      else if (a == "--val-images")
        val_images = std::stoi(value());
      else if (a == "--no-fusion-report")
        cfg.fusion_report = false;
      else if (a == "--rho")
        cfg.matchfree.rho = std::stod(value());
      else if (a == "--alpha-w")
        cfg.matchfree.alpha_w = std::stod(value());
      // Match-free variants: extensions beyond the paper (defaults: the paper).
      else if (a == "--probe-logits")
        cfg.matchfree.probe_logits = detr::parse_probe_logits(value(), a);
      else if (a == "--cosine-scale")
        cfg.matchfree.cosine_scale = std::stod(value());
      else if (a == "--probe-attention")
        cfg.matchfree.attention = detr::parse_attention(value(), a);
      else if (a == "--sinkhorn-iters")
        cfg.matchfree.sinkhorn_iters = std::stoi(value());
      else if (a == "--selection")
        cfg.matchfree.selection = detr::parse_selection(value(), a);
      else if (a == "--collapse-images")
        cfg.collapse_images = std::stoi(value());
      else if (a == "--clip")
        cfg.clip_max_norm = std::stod(value());
      else if (a == "--probe-warmup")
        cfg.probe_warmup_steps = std::stoll(value());
      else if (a == "--init-from")
        cfg.init_from = value();
      else if (a == "--jit")
        cfg.jit = true;
      else if (a == "--pad-multiple")
        pad_multiple = std::stoi(value());
      else if (a == "--max-steps")
        cfg.max_steps_per_epoch = std::stoi(value());
      else if (a == "--seed")
        cfg.seed = std::stoull(value());
      else if (a == "--resume")
        cfg.resume = true;
      else if (a == "--out")
        out = value();
      else if (a == "--device")
        device = value();
      else
        usage("unknown option " + a);
    } catch (const std::invalid_argument& e) {
      // The variant parsers name the flag and the accepted values.
      const std::string what = e.what();
      usage(what.rfind("[MatchFreeConfig]", 0) == 0 ? what : "bad value for " + a);
    } catch (const std::logic_error&) {
      usage("bad value for " + a);
    }
  }
  try {
    cfg.device = Device::parse(device);
    // Under mpirun, "gpu" means one GPU per process.
    if (device == "gpu") cfg.device = Device::gpu(distributed::rank() % gpu::device_count());
  } catch (const std::exception& e) {
    usage(std::string("--device: ") + e.what());
  }
  cfg.out_dir = out;
  // A jitted step compiles once per batch shape: pad to multiples of 32 by
  // default so multi-scale batches share a few shapes.
  cfg.pad_multiple = pad_multiple > 0 ? pad_multiple : (cfg.jit ? 32 : 1);
  if (preset == "small") {
    cfg.model = models::DetectorConfig::small_cpu();
    // Small images and scales for the CPU preset.
    cfg.train_transforms.scales = {image_size - 32, image_size - 16, image_size};
    cfg.train_transforms.max_size = image_size * 5 / 3;
    cfg.train_transforms.crop_scales = {image_size * 2 / 3, image_size};
    cfg.train_transforms.crop_min = image_size / 2;
    cfg.train_transforms.crop_max = image_size;
    cfg.val_transforms.val_size = image_size;
    cfg.val_transforms.max_size = image_size * 5 / 3;
  } else if (preset == "r50") {
    cfg.model = models::DetectorConfig::coco_r50();
    cfg.train_transforms = coco::detr_train_transforms();
    cfg.val_transforms = coco::detr_val_transforms();
    cfg.lr_drop_epoch = cfg.epochs * 4 / 5;
  } else {
    usage("--preset must be small or r50");
  }
  if (preset == "small") {
    // Few objects per synthetic image: 50 queries learn faster than 100.
    cfg.model.detr.num_queries = 50;
    cfg.lr_drop_epoch = cfg.epochs * 2 / 3;
  }
  if (queries > 0) cfg.model.detr.num_queries = queries;
  if (backbone_lr_scale >= 0) cfg.backbone_lr_scale = backbone_lr_scale;
  if (train_stem >= 0) cfg.model.backbone.train_stem_and_layer1 = train_stem != 0;
  // The reference rate for R50; the small preset learns faster at 1e-3.
  cfg.lr = lr > 0 ? lr : (preset == "small" ? 1e-3 : 2e-4);
  try {
    if (cfg.data_dir.empty()) {
      cfg.data_dir = (std::filesystem::path(out) / "synthetic").string();
      coco::SyntheticConfig sc;
      sc.seed = cfg.seed;
      sc.num_train = train_images;
      sc.num_val = val_images;
      sc.min_side = image_size * 3 / 4;
      sc.max_side = image_size * 5 / 4;
      sc.num_classes = 4;
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
                 preset, cfg.criterion,
                 cfg.criterion == "matchfree" ? " [" + detr::matchfree_variant(cfg.matchfree) + "]"
                                              : std::string(),
                 cfg.epochs, cfg.batch_size, out);
    auto r = train::fit(cfg);
    if (lead)
      fmt::print("\nfinal COCO metrics ({} epochs, {} steps, last loss {:.4f}):\n{}", r.epochs_done,
                 r.steps, r.last_loss, coco::format_summary_table(r.last_stats, 6));
    return r.stopped_non_finite ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "train_coco: {}\n", e.what());
    return 1;
  }
}

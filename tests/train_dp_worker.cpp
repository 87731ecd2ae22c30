// Run under `mpirun -np 2` by ctest (test "train_dp_mpi_np2"): one
// data-parallel training step of a tiny float64 detector, one image per
// process, must equal the single-process step on both images, for each
// criterion; then a short train::fit runs on the two processes. Exit code 0
// on success; failures print the rank and what differed.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "mfx/coco/loader.h"
#include "mfx/coco/synthetic.h"
#include "mfx/distributed.h"
#include "mfx/mfx.h"
#include "mfx/train/fit.h"
#include "tiny_detector.h"

using namespace mfx;
namespace fs = std::filesystem;

namespace {

int failures = 0;

void fail(const std::string& what) {
  std::fprintf(stderr, "rank %d: %s\n", distributed::rank(), what.c_str());
  ++failures;
}

// Largest |got - want| within tol times the largest |want| of the leaf, so
// float64 rounding from the different summation order passes and a factor
// (a mean instead of a sum, a local instead of a global normaliser) fails.
void expect_close(const array& got, const array& want, const std::string& what, double tol = 1e-9) {
  if (got.shape() != want.shape()) {
    fail(fmt::format("{}: shape {} vs {}", what, shape_str(got.shape()), shape_str(want.shape())));
    return;
  }
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double err = 0, scale = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    err = std::max(err, std::abs(g[i] - w[i]));
    scale = std::max(scale, std::abs(w[i]));
  }
  if (!(err <= tol * scale + 1e-15)) {
    fail(fmt::format("{} differs: max error {:.3g}, max |value| {:.3g}", what, err, scale));
  }
}

void expect_close(const Tree& got, const Tree& want, const std::string& what) {
  if (!got.same_structure(want)) {
    fail(what + ": tree structures differ");
    return;
  }
  auto g = got.flatten(), w = want.flatten();
  for (size_t i = 0; i < g.size(); ++i)
    expect_close(g[i].second, w[i].second, what + "." + g[i].first);
}

// The loader's batch as a float64 training batch (the model computes in float64).
detr::Batch to_batch(const coco::Batch& b) {
  return {astype(b.images, float64), b.mask,
          criteria::Targets{b.labels, astype(b.boxes, float64), b.valid}};
}

void check_step(criteria::Criterion criterion,
                const std::shared_ptr<const coco::DetectionDataset>& data, const coco::Batch& local,
                const coco::Batch& global) {
  // No dropout: the split batch would draw other dropout masks.
  const auto model = mfx::test::tiny_detector(data->num_classes(), 0.0);
  array key = random::key(11);
  Tree params{{"model", detr::init_detector(random::fold_in(key, 1), model, float64)},
              {"probe", criteria::init_probe(random::fold_in(key, 2), model.detr.num_classes,
                                             model.detr.d_model, 32, float64)}};
  params = distributed::broadcast(params, 0);
  optim::AdamW opt(detr::detector_adamw_config(model, "model.", 1e-3, 1e-4, 1.0));
  const Tree state = opt.init(params);

  train::StepConfig sc;
  sc.criterion = criterion;
  sc.loss.model = model;
  sc.clip_max_norm = 0.1;
  Tree p_dp = params, s_dp = state;
  const detr::StepInputs in{.dropout_key = random::key(5)};
  auto dp = train::train_step(p_dp, s_dp, opt, to_batch(local), sc, 0, in);

  // The same step on the whole global batch, as a world of one.
  sc.data_parallel = false;
  Tree p_1 = params, s_1 = state;
  auto one = train::train_step(p_1, s_1, opt, to_batch(global), sc, 0, in);

  const std::string c = std::string(criteria::to_string(criterion)) + ": ";
  expect_close(dp.loss, one.loss, c + "loss");
  expect_close(dp.grads, one.grads, c + "grads");
  expect_close(dp.grad_norm, one.grad_norm, c + "grad_norm");
  expect_close(dp.components, one.components, c + "components");
  expect_close(p_dp, p_1, c + "params");
  expect_close(s_dp, s_1, c + "optimizer state");
  if (dp.num_gt != one.num_gt || dp.images != 2 || one.images != 2) {
    fail(fmt::format("{}num_gt {} vs {}, images {} vs {}", c, dp.num_gt, one.num_gt, dp.images,
                     one.images));
  }
  // The replicas hold bit-identical parameters after the step.
  auto mine = p_dp.leaves(), root = distributed::broadcast(p_dp, 0).leaves();
  for (size_t i = 0; i < mine.size(); ++i) {
    if (mine[i].to_vector<double>() != root[i].to_vector<double>()) {
      fail(c + "replicas differ after the step");
      break;
    }
  }
}

}  // namespace

int main() {
  distributed::init();
  const int r = distributed::rank(), n = distributed::world_size();
  if (n != 2 || distributed::backend() != "mpi") {
    std::fprintf(stderr, "expected 2 MPI processes, got %d (%s)\n", n,
                 distributed::backend().c_str());
    return 1;
  }
  // Rank 0 writes the data set into a folder named after its pid.
  const int64_t pid =
      distributed::broadcast(array(static_cast<int64_t>(::getpid()))).item<int64_t>();
  const fs::path dir = fs::temp_directory_path() / fmt::format("mfx_train_dp_{}", pid);
  try {
    if (r == 0) {
      coco::SyntheticConfig sc;
      sc.seed = 7;
      sc.num_train = 4;
      sc.num_val = 1;
      sc.min_side = 64;  // equal sizes: no padding, which differs between split and whole batch
      sc.max_side = 64;
      sc.num_classes = 3;
      sc.max_objects = 4;
      coco::write_synthetic_coco(dir.string(), sc);
    }
    distributed::barrier();

    coco::TransformConfig tf;
    tf.train = true;
    tf.scales = {64};
    tf.max_size = 96;
    tf.crop_prob = 0;
    const auto split = coco::find_split(dir.string(), "train");
    auto data = std::make_shared<const coco::DetectionDataset>(
        coco::DetectionDataset::load(split.images, split.annotations, tf));

    // Rank r's loader yields slice r of the single-process global batch.
    coco::LoaderConfig lc;
    lc.num_workers = 0;
    lc.seed = 3;
    lc.drop_last = true;
    lc.batch_size = 2;
    coco::Loader whole(data, lc);
    lc.batch_size = 1;
    lc.rank = r;
    lc.world_size = 2;
    coco::Loader mine(data, lc);
    if (whole.batches_per_epoch() != 2 || mine.batches_per_epoch() != 2) {
      fail(fmt::format("batches per epoch {} and {}, expected 2", whole.batches_per_epoch(),
                       mine.batches_per_epoch()));
    }
    whole.start_epoch(1);
    mine.start_epoch(1);
    auto global = whole.next();
    auto local = mine.next();
    if (!global || !local || global->size() != 2 || local->size() != 1 ||
        local->image_ids[0] != global->image_ids[r] ||
        !array_equal(local->images, slice_axis(global->images, 0, r, r + 1))) {
      fail("the loader's slice is not this rank's part of the global batch");
      return 1;
    }
    for (auto criterion : {criteria::Criterion::matchfree, criteria::Criterion::hungarian})
      check_step(criterion, data, *local, *global);

    // fit() end to end on the two processes: same steps and results everywhere,
    // files from rank 0.
    train::FitConfig fc;
    fc.data_dir = dir.string();
    fc.out_dir = (dir / "run").string();
    fc.model = mfx::test::tiny_detector(3, 0.0);
    fc.model.detr.dropout = 0.1;
    fc.train_transforms = tf;
    fc.val_transforms.val_size = 64;
    fc.epochs = 1;
    fc.batch_size = 1;
    fc.num_workers = 0;
    fc.progress = false;
    auto res = train::fit(fc);
    if (res.steps != 2 || res.stopped_non_finite || !std::isfinite(res.last_loss)) {
      fail(fmt::format("fit: {} steps (expected 2), last loss {}", res.steps, res.last_loss));
    }
    const double loss0 = distributed::broadcast(array(res.last_loss)).item<double>();
    const double ap0 = distributed::broadcast(array(res.last_stats[0])).item<double>();
    if (loss0 != res.last_loss || ap0 != res.last_stats[0])
      fail("fit results differ between ranks");
    if (r == 0 && !fs::exists(dir / "run" / "last.safetensors")) fail("fit wrote no checkpoint");
  } catch (const std::exception& e) {
    fail(std::string("exception: ") + e.what());
  }
  distributed::barrier();
  if (r == 0) {
    fs::remove_all(dir);
    std::printf("train_dp_worker: %s\n", failures ? "FAILED" : "ok");
  }
  return failures ? 1 : 0;
}

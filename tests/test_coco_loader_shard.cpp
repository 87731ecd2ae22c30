// Data-parallel sharding of coco::Loader: the loaders of ranks 0..W-1 with
// batch B together yield, step by step, exactly the batches of one loader
// with batch B * W (same images, order and random transforms).
#include <filesystem>

#include "mfx/coco/loader.h"
#include "mfx/coco/synthetic.h"
#include "test_utils.h"

namespace fs = std::filesystem;
using namespace mfx::coco;
using mfx::test::check_throws_with;
using mfx::test::TempDir;

namespace {

std::shared_ptr<const DetectionDataset> ten_images(const fs::path& root) {
  SyntheticConfig sc;
  sc.seed = 3;
  sc.num_train = 10;
  sc.num_val = 1;
  sc.min_side = 32;
  sc.max_side = 48;
  sc.num_classes = 2;
  write_synthetic_coco(root.string(), sc);
  TransformConfig tf = detr_train_transforms();
  tf.scales = {32, 40};
  tf.max_size = 64;
  tf.crop_scales = {36, 44};
  tf.crop_min = 24;
  tf.crop_max = 32;
  return std::make_shared<const DetectionDataset>(DetectionDataset::load(
      (root / "images").string(), (root / "annotations/instances_train.json").string(), tf));
}

// Image ids and per-image pixels of every batch of an epoch.
struct Step {
  std::vector<int64_t> ids;
  std::vector<std::vector<float>> pixels;  // each image cropped to its size
};

std::vector<Step> run_epoch(Loader& loader, int64_t epoch) {
  std::vector<Step> steps;
  loader.start_epoch(epoch);
  while (auto b = loader.next()) {
    Step s;
    s.ids = b->image_ids;
    for (int64_t i = 0; i < b->size(); ++i) {
      const auto [h, w] = b->sizes[static_cast<size_t>(i)];
      mfx::array img = mfx::slice(b->images, {i, 0, 0, 0}, {i + 1, 3, h, w});
      s.pixels.push_back(img.to_vector<float>());
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

}  // namespace

TEST_CASE("sharded loaders split every global batch by rank", "[coco_data][distributed]") {
  TempDir dir;
  const auto ds = ten_images(dir.path);
  LoaderConfig cfg;
  cfg.seed = 9;
  cfg.num_workers = 1;
  cfg.gt_buckets = {4, 8};
  for (bool drop_last : {true, false}) {
    INFO("drop_last " << drop_last);
    cfg.drop_last = drop_last;
    cfg.batch_size = 6;  // 2 per rank x 3 ranks
    Loader whole(ds, cfg);
    const auto global = run_epoch(whole, 2);
    // drop_last: 10 / 6 -> 1 step; otherwise 2, the second holding positions
    // 6..9: ranks 0 and 1 get two images each, rank 2 none.
    REQUIRE(global.size() == (drop_last ? 1u : 2u));
    cfg.batch_size = 2;
    cfg.world_size = 3;
    std::vector<std::vector<Step>> shards;
    for (int r = 0; r < 3; ++r) {
      cfg.rank = r;
      Loader mine(ds, cfg);
      CHECK(mine.batches_per_epoch() == whole.batches_per_epoch());
      shards.push_back(run_epoch(mine, 2));
    }
    cfg.rank = 0;
    cfg.world_size = 1;
    for (size_t b = 0; b < global.size(); ++b) {
      Step joined;
      for (auto& shard : shards) {
        if (b >= shard.size()) continue;
        CHECK(shard[b].ids.size() == 2);
        joined.ids.insert(joined.ids.end(), shard[b].ids.begin(), shard[b].ids.end());
        joined.pixels.insert(joined.pixels.end(), shard[b].pixels.begin(), shard[b].pixels.end());
      }
      CHECK(joined.ids == global[b].ids);
      CHECK(joined.pixels == global[b].pixels);
    }
    CHECK(shards[2].size() == 1);
  }
}

TEST_CASE("sharded loader rejects a rank outside the world", "[coco_data][distributed][errors]") {
  TempDir dir;
  const auto ds = ten_images(dir.path);
  LoaderConfig cfg;
  cfg.rank = 2;
  cfg.world_size = 2;
  check_throws_with([&] { Loader(ds, cfg); }, {"coco::Loader", "rank 2", "world_size 2"});
  cfg.rank = 0;
  cfg.world_size = 0;
  check_throws_with([&] { Loader(ds, cfg); }, {"coco::Loader", "world_size 0"});
  cfg.rank = -1;
  cfg.world_size = 1;
  check_throws_with([&] { Loader(ds, cfg); }, {"coco::Loader", "rank -1"});
}

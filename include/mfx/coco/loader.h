// Batching COCO samples and a multi-threaded prefetching loader.
//
// A batch pads images bottom-right to the largest height and width in it,
// with a mask that is true on padding (as DETR), and pads targets to a
// bucketed count M so a jit-compiled step sees few distinct shapes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mfx/array.h"
#include "mfx/coco/data.h"

namespace mfx::coco {

struct Batch {
  array images;  ///< float32 [B, 3, Hmax, Wmax], zeros on padding
  array mask;    ///< bool [B, Hmax, Wmax], true = padding
  array labels;  ///< int32 [B, M] in [0, K), 0 on padded entries
  array boxes;   ///< float32 [B, M, 4] normalised cxcywh, (0.5, 0.5, 1, 1) on padded entries
  array valid;   ///< bool [B, M], true = real ground truth
  std::vector<int64_t> image_ids;
  std::vector<std::array<int, 2>> sizes;       ///< (h, w) of each image before padding
  std::vector<std::array<int, 2>> orig_sizes;  ///< (h, w) of each decoded file
  std::vector<size_t> indices;                 ///< dataset positions
  int64_t size() const { return static_cast<int64_t>(image_ids.size()); }
};

/// Target count M for a batch whose largest image has `max_count` targets:
/// the smallest bucket >= max_count; beyond the largest bucket, the next
/// multiple of it; with no buckets, max_count itself. Buckets must be
/// positive and ascending (std::invalid_argument otherwise).
int64_t bucket_for(int64_t max_count, const std::vector<int64_t>& buckets);

/// Pads and stacks samples (see Batch). The padded height and width are
/// rounded up to a multiple of `pad_multiple` (1: the largest image's; a
/// jitted step compiles once per distinct shape, so larger multiples mean
/// fewer compilations for a little padding). Throws std::invalid_argument
/// for an empty list, pad_multiple < 1 or a sample whose buffers do not
/// match its size.
Batch collate(const std::vector<Sample>& samples, const std::vector<int64_t>& buckets,
              int pad_multiple = 1);

struct LoaderConfig {
  int batch_size = 2;
  int num_workers = 2;     ///< 0: samples are loaded on the caller's thread in next()
  int prefetch = 4;        ///< batches decoded ahead of the consumer (>= 1)
  bool shuffle = true;     ///< per-epoch permutation from (seed, epoch)
  bool drop_last = false;  ///< drop a final partial batch
  uint64_t seed = 0;       ///< also seeds the per-sample transforms
  std::vector<int64_t> gt_buckets = {8, 16, 32, 64, 128};
  int pad_multiple = 1;  ///< see collate
  OnCorrupt on_corrupt = OnCorrupt::skip;
  /// Data-parallel sharding: process `rank` of `world_size` gets slice
  /// [rank * batch_size, (rank + 1) * batch_size) of each global batch of
  /// batch_size * world_size positions, so the world_size loaders' batches of
  /// one step together are the single-process batch of batch_size *
  /// world_size samples, in the same order and with the same transforms.
  int rank = 0;
  int world_size = 1;
};

/// Iterates over a dataset in batches. The sequence of batches for an epoch
/// depends only on (dataset, config, epoch), never on thread timing or the
/// number of workers: batch b holds positions [b * B, (b + 1) * B) of the
/// epoch's permutation (with sharding, [(b * W + rank) * B, (b * W + rank +
/// 1) * B) for W = world_size), and sample i's transforms are seeded by
/// (seed, epoch, i). A corrupt image (CorruptSampleError) is skipped — one stderr
/// line per file for the loader's lifetime; its batch is smaller, a batch
/// with no readable image is left out — or, with OnCorrupt::reject, rethrown
/// from next() at that batch's turn. Other errors are always rethrown.
///
///   Loader loader(dataset, config);
///   loader.start_epoch(0);
///   while (auto batch = loader.next()) { ... }
class Loader {
 public:
  /// Throws std::invalid_argument naming the field for a bad config.
  Loader(std::shared_ptr<const DetectionDataset> dataset, LoaderConfig config);
  /// Stops and joins the workers.
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Starts (or restarts) prefetching `epoch`; an unfinished epoch is abandoned.
  void start_epoch(int64_t epoch);
  /// The next batch of the current epoch, nullopt at its end (or before any
  /// start_epoch).
  std::optional<Batch> next();
  /// Batches in an epoch, counted before any skipping: global batches of
  /// batch_size * world_size positions (every rank gets the same count;
  /// without drop_last the last one may leave a rank a smaller or no batch).
  size_t batches_per_epoch() const;
  const LoaderConfig& config() const { return config_; }

 private:
  struct Result {
    std::optional<Batch> batch;  // empty when every image of the batch was skipped
    std::exception_ptr error;
  };
  Result build(size_t b, int64_t epoch, const std::vector<size_t>& order);
  void worker_loop();
  void stop_workers();

  std::shared_ptr<const DetectionDataset> dataset_;
  LoaderConfig config_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
  int64_t epoch_ = 0;
  std::vector<size_t> order_;  // the epoch's permutation
  size_t num_batches_ = 0;
  size_t next_task_ = 0;  // next batch a worker takes
  size_t next_out_ = 0;   // next batch next() returns
  std::map<size_t, Result> ready_;
  std::set<std::string> reported_;  // corrupt files already reported
};

}  // namespace mfx::coco

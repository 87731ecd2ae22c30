// COCO detection samples for training and validation: a dataset over an
// image folder and an instances JSON, DETR's transforms with a seeded RNG, and
// the Sample a loader batches (mfx/coco/loader.h).
//
// Labels are contiguous class indices 0..K-1: category ids sorted ascending,
// label k = k-th id (category_ids() exposes the mapping, e.g. {1, 2, 3, 5, 7}
// for the synthetic set). Crowd annotations are dropped from targets.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "mfx/coco/dataset.h"
#include "mfx/coco/image.h"

namespace mfx::coco {

/// What to do with a corrupt image or annotation: skip it (one line on stderr
/// naming the file) or reject it (an exception naming the file).
enum class OnCorrupt { skip, reject };

/// An image that cannot be read or decoded. what() names the file and the
/// decoder's message; file() is the path.
class CorruptSampleError : public std::runtime_error {
 public:
  CorruptSampleError(std::string file, const std::string& what)
      : std::runtime_error(what), file_(std::move(file)) {}
  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

/// An image with its boxes between transforms: (x0, y0, x1, y1) in pixels of
/// `image`, and one label per box.
struct AnnotatedImage {
  RgbImage image;
  std::vector<std::array<double, 4>> boxes;
  std::vector<int32_t> labels;
};

/// A transformed sample, ready to batch.
struct Sample {
  /// float32 [3, height, width] row-major, normalised with ImageNet's mean
  /// (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) on [0, 1] values.
  std::vector<float> image;
  int height = 0, width = 0;
  std::vector<int32_t> labels;              ///< [M] in [0, K)
  std::vector<std::array<float, 4>> boxes;  ///< [M] (cx, cy, w, h) / (width, height)
  int64_t image_id = 0;
  int orig_height = 0, orig_width = 0;  ///< size of the decoded file
  size_t index = 0;                     ///< position in the dataset
};

// ------------------------------------------------------------ transforms

/// Sizes and probabilities of the transforms. train = false: resize only
/// (short side val_size, long side capped at max_size). train = true, as
/// DETR: horizontal flip with flip_prob; then with crop_prob the crop branch
/// (short side from crop_scales without cap, a random crop with sides in
/// [crop_min, crop_max], short side from scales capped at max_size), else the
/// short side from scales capped at max_size. max_size <= 0 means no cap.
struct TransformConfig {
  bool train = false;
  std::vector<int> scales = {480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800};
  int max_size = 1333;
  double flip_prob = 0.5;
  double crop_prob = 0.5;
  std::vector<int> crop_scales = {400, 500, 600};
  int crop_min = 384, crop_max = 600;
  int val_size = 800;
};

/// DETR's training / validation settings (the defaults above).
TransformConfig detr_train_transforms();
TransformConfig detr_val_transforms();
/// Throws std::invalid_argument naming the field for a size <= 0, an empty
/// scale list, crop_min > crop_max or a probability outside [0, 1].
void validate(const TransformConfig& config);

/// Output (height, width) for a short side `size`, keeping the aspect ratio
/// (truncating the long side, as DETR); when the long side would exceed
/// max_size (> 0) the short side becomes round(max_size * short / long).
std::array<int, 2> resize_shape(int height, int width, int size, int max_size);

/// Resamples to (h, w) with a triangle filter widened by the scale factor
/// when shrinking (antialiased bilinear, like PIL's BILINEAR), pixel centres
/// aligned (half-pixel convention).
RgbImage resize_image(const RgbImage& img, int h, int w);

/// Mirrors the image and its boxes left-right.
void hflip(AnnotatedImage& a);
/// Resizes to (h, w), scaling the boxes (then clamp_boxes).
void resize(AnnotatedImage& a, int h, int w);
/// Resizes so the short side is `size` (see resize_shape).
void resize_short_side(AnnotatedImage& a, int size, int max_size);
/// Keeps rows [top, top + h) and columns [left, left + w) (must lie in the
/// image); boxes are shifted, clipped to the crop and dropped when empty.
void crop(AnnotatedImage& a, int top, int left, int h, int w);
/// Clamps boxes to the image and drops those with x1 <= x0 or y1 <= y0.
void clamp_boxes(AnnotatedImage& a);

/// Runs the configured transforms with a stream seeded by `seed` (the same
/// seed gives the same result).
void apply_transforms(AnnotatedImage& a, const TransformConfig& config, uint64_t seed);

/// Normalises the image and converts boxes to normalised cxcywh.
Sample to_sample(const AnnotatedImage& a, int64_t image_id, int orig_height, int orig_width);

// ------------------------------------------------------------ dataset

/// Where one split of a COCO-format folder lives.
struct SplitPaths {
  std::string images;       ///< image folder
  std::string annotations;  ///< instances JSON
};

/// Split `split` ("train", "val", ...) of `dir`: the synthetic set's layout
/// (images/ + annotations/instances_{split}.json) when that file exists,
/// else COCO 2017's ({split}2017/ + annotations/instances_{split}2017.json).
/// Throws std::runtime_error naming `dir` when it does not exist or has
/// neither annotation file.
SplitPaths find_split(const std::string& dir, const std::string& split);

/// Images of an instances JSON in file order, read from `image_dir` /
/// file_name. Thread-safe: get() is const and keeps no state.
class DetectionDataset {
 public:
  /// `source` names the annotation file in messages. Annotations with an
  /// unknown category id or a non-finite / negative-size bbox are corrupt:
  /// skipped with one stderr line naming `source`, or rejected with
  /// std::runtime_error naming `source` and the annotation id.
  DetectionDataset(std::string image_dir, Dataset dataset, TransformConfig transforms,
                   std::string source = "<dataset>", OnCorrupt on_corrupt = OnCorrupt::reject);
  /// Loads the instances JSON (errors name the path) and builds the dataset.
  static DetectionDataset load(const std::string& image_dir, const std::string& annotation_file,
                               TransformConfig transforms,
                               OnCorrupt on_corrupt = OnCorrupt::reject);

  size_t size() const { return dataset_.images.size(); }
  int64_t num_classes() const { return static_cast<int64_t>(category_ids_.size()); }
  /// label -> category id.
  const std::vector<int64_t>& category_ids() const { return category_ids_; }
  /// category id -> label; throws std::invalid_argument for an unknown id.
  int32_t label_of(int64_t category_id) const;
  const Dataset& dataset() const { return dataset_; }
  const TransformConfig& transforms() const { return transforms_; }
  std::string image_path(size_t index) const;

  /// Decoded image with its non-crowd boxes (xyxy pixels, clamped, degenerate
  /// ones dropped) and labels. Throws CorruptSampleError naming the file when
  /// it cannot be read or decoded, std::out_of_range for a bad index.
  AnnotatedImage load_annotated(size_t index) const;
  /// load_annotated + transforms seeded from (seed, epoch, index) + to_sample:
  /// the result does not depend on call order or thread.
  Sample get(size_t index, uint64_t seed = 0, int64_t epoch = 0) const;

 private:
  std::string image_dir_;
  Dataset dataset_;
  TransformConfig transforms_;
  std::vector<int64_t> category_ids_;
  std::vector<std::vector<size_t>> per_image_;  // annotation indices of each image
};

}  // namespace mfx::coco

// DetectionDataset: category mapping, per-image annotation lists, and
// decoding + transforming one sample.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <unordered_map>

#include "coco/rng.h"
#include "mfx/coco/data.h"

namespace mfx::coco {

namespace {

// Why an annotation cannot be used, or "" when it is fine.
std::string annotation_problem(const Annotation& a, const std::vector<int64_t>& category_ids) {
  if (!std::binary_search(category_ids.begin(), category_ids.end(), a.category_id)) {
    return fmt::format("category_id {} is not in 'categories'", a.category_id);
  }
  for (double v : a.bbox) {
    if (!std::isfinite(v)) return "bbox has a non-finite value";
  }
  if (a.bbox[2] < 0 || a.bbox[3] < 0) {
    return fmt::format("bbox has a negative size ({} x {})", a.bbox[2], a.bbox[3]);
  }
  return "";
}

}  // namespace

DetectionDataset::DetectionDataset(std::string image_dir, Dataset dataset,
                                   TransformConfig transforms, std::string source,
                                   OnCorrupt on_corrupt)
    : image_dir_(std::move(image_dir)),
      dataset_(std::move(dataset)),
      transforms_(std::move(transforms)) {
  validate(transforms_);
  for (const auto& c : dataset_.categories) category_ids_.push_back(c.id);
  std::sort(category_ids_.begin(), category_ids_.end());

  std::unordered_map<int64_t, size_t> image_pos;
  for (size_t i = 0; i < dataset_.images.size(); ++i) image_pos[dataset_.images[i].id] = i;
  per_image_.resize(dataset_.images.size());
  size_t skipped = 0;
  std::string first_problem;
  for (size_t i = 0; i < dataset_.annotations.size(); ++i) {
    const Annotation& a = dataset_.annotations[i];
    auto it = image_pos.find(a.image_id);
    std::string problem = it == image_pos.end()
                              ? fmt::format("image_id {} is not in 'images'", a.image_id)
                              : annotation_problem(a, category_ids_);
    if (problem.empty()) {
      per_image_[it->second].push_back(i);
      continue;
    }
    const std::string msg =
        fmt::format("[coco::DetectionDataset] {}: annotation id {}: {}", source, a.id, problem);
    if (on_corrupt == OnCorrupt::reject) throw std::runtime_error(msg);
    if (skipped++ == 0) first_problem = msg;
  }
  if (skipped > 0) {
    std::cerr << fmt::format("{} (skipped {} corrupt annotation(s) of {})\n", first_problem,
                             skipped, source);
  }
}

DetectionDataset DetectionDataset::load(const std::string& image_dir,
                                        const std::string& annotation_file,
                                        TransformConfig transforms, OnCorrupt on_corrupt) {
  return DetectionDataset(image_dir, load_instances(annotation_file), std::move(transforms),
                          annotation_file, on_corrupt);
}

int32_t DetectionDataset::label_of(int64_t category_id) const {
  auto it = std::lower_bound(category_ids_.begin(), category_ids_.end(), category_id);
  if (it == category_ids_.end() || *it != category_id) {
    throw std::invalid_argument(
        fmt::format("[coco::DetectionDataset::label_of] unknown category id {}", category_id));
  }
  return static_cast<int32_t>(it - category_ids_.begin());
}

std::string DetectionDataset::image_path(size_t index) const {
  if (index >= size()) {
    throw std::out_of_range(
        fmt::format("[coco::DetectionDataset] index {} out of range for {} images", index, size()));
  }
  return (std::filesystem::path(image_dir_) / dataset_.images[index].file_name).string();
}

AnnotatedImage DetectionDataset::load_annotated(size_t index) const {
  const std::string path = image_path(index);
  AnnotatedImage a;
  try {
    a.image = read_image(path);
  } catch (const std::runtime_error& e) {
    throw CorruptSampleError(path, e.what());
  }
  for (size_t ai : per_image_[index]) {
    const Annotation& ann = dataset_.annotations[ai];
    if (ann.iscrowd) continue;
    const auto& b = ann.bbox;
    a.boxes.push_back({b[0], b[1], b[0] + b[2], b[1] + b[3]});
    a.labels.push_back(label_of(ann.category_id));
  }
  clamp_boxes(a);
  return a;
}

Sample DetectionDataset::get(size_t index, uint64_t seed, int64_t epoch) const {
  AnnotatedImage a = load_annotated(index);
  const int oh = a.image.h, ow = a.image.w;
  apply_transforms(
      a, transforms_,
      detail::combine_seed(seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)));
  Sample s = to_sample(a, dataset_.images[index].id, oh, ow);
  s.index = index;
  return s;
}

}  // namespace mfx::coco

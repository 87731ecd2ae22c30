// COCO detection data in memory: the instances JSON of a ground-truth set
// (images, categories, box annotations) and detection results
// ([{image_id, category_id, bbox, score}]), with readers and an atomic writer.
// Boxes are COCO's (x, y, width, height) in pixels, as doubles.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mfx::coco {

/// (x, y, w, h): top-left corner, width and height.
using BoxXYWH = std::array<double, 4>;

/// One entry of "images". Fields other than id are optional in the file
/// (empty / 0 when absent).
struct Image {
  int64_t id = 0;
  std::string file_name;
  int64_t width = 0;
  int64_t height = 0;
};

/// One entry of "categories". COCO ids have gaps (1..90 for 80 classes).
struct Category {
  int64_t id = 0;
  std::string name;
  std::string supercategory;
};

/// One ground-truth box of "annotations". `area` is the file's area field
/// (the segment area for real COCO, not w*h): evaluation's area ranges use it.
struct Annotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  BoxXYWH bbox{};
  double area = 0;
  bool iscrowd = false;
};

/// A ground-truth set, in file order.
struct Dataset {
  std::vector<Image> images;
  std::vector<Category> categories;
  std::vector<Annotation> annotations;
};

/// One detection of a results file.
struct Detection {
  int64_t image_id = 0;
  int64_t category_id = 0;
  BoxXYWH bbox{};
  double score = 0;
};

/// Parses instances JSON text. Required: "images" (each with "id"),
/// "annotations" (each with "id", "image_id", "category_id", "bbox" of 4
/// numbers, "area"), "categories" (each with "id"). "iscrowd" defaults to 0;
/// other fields (segmentation, info, licenses) are ignored. Duplicate image,
/// category or annotation ids, and annotations whose image is not listed, are
/// errors. Throws std::runtime_error naming `source`, the entry and the field.
Dataset parse_instances(const std::string& json_text, const std::string& source = "<string>");
/// Reads and parses an instances JSON file (see parse_instances); errors name
/// the path.
Dataset load_instances(const std::string& path);

/// Parses a results JSON array [{image_id, category_id, bbox, score}, ...]
/// (extra fields are ignored). Throws std::runtime_error naming `source`, the
/// entry index and the field.
std::vector<Detection> parse_results(const std::string& json_text,
                                     const std::string& source = "<string>");
/// Reads and parses a results JSON file (see parse_results).
std::vector<Detection> load_results(const std::string& path);

/// Serialises detections as a COCO results JSON array. Doubles are written
/// with the shortest text that reads back to the same value.
std::string results_to_json(const std::vector<Detection>& detections);
/// Writes results_to_json atomically (temporary file, fsync, rename): readers
/// never see a partial file. Throws std::runtime_error naming the path.
void save_results(const std::string& path, const std::vector<Detection>& detections);

}  // namespace mfx::coco

// Runs a detector checkpoint written by train_coco on one image and draws
// the detections.
//
//   detect --checkpoint FILE --image IN.(jpg|png) --out OUT.png [--threshold 0.3] [--top 100]
//
// The image is resized like the validation set (sizes from the checkpoint),
// the top-k detections over queries x classes are mapped back to the
// original image, those with score >= threshold are drawn (2-pixel boxes, a
// colour per class, "name score" labels) on the original image and written
// as PNG (atomically), and listed as a table on stdout.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "mfx/coco/image.h"
#include "mfx/coco/loader.h"
#include "mfx/models/deformable_detr.h"
#include "mfx/train/checkpoint_info.h"
#include "mfx/train/draw.h"

using namespace mfx;

namespace {

[[noreturn]] void usage(const std::string& error) {
  fmt::print(stderr,
             "{}\nusage: detect --checkpoint FILE --image IN.(jpg|png) --out OUT.png "
             "[--threshold 0.3] [--top 100]\n",
             error);
  std::exit(2);
}

// The whole string as a number, or nullopt.
template <typename T>
std::optional<T> parse(const std::string& s) {
  try {
    size_t used = 0;
    T v;
    if constexpr (std::is_floating_point_v<T>) {
      v = static_cast<T>(std::stod(s, &used));
    } else {
      v = static_cast<T>(std::stoll(s, &used));
    }
    if (used == s.size()) return v;
  } catch (const std::logic_error&) {
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  std::string checkpoint, image_path, out_path;
  double threshold = 0.3;
  int64_t top = 100;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--checkpoint") {
      checkpoint = value();
    } else if (a == "--image") {
      image_path = value();
    } else if (a == "--out") {
      out_path = value();
    } else if (a == "--threshold") {
      std::string v = value();
      auto t = parse<double>(v);
      if (!t || !std::isfinite(*t) || *t < 0 || *t > 1) {
        usage("--threshold must be a number in [0, 1], got '" + v + "'");
      }
      threshold = *t;
    } else if (a == "--top") {
      std::string v = value();
      auto k = parse<int64_t>(v);
      if (!k || *k < 1) usage("--top must be a positive integer, got '" + v + "'");
      top = *k;
    } else {
      usage("unknown option " + a);
    }
  }
  if (checkpoint.empty()) usage("--checkpoint is required");
  if (image_path.empty()) usage("--image is required");
  if (out_path.empty()) usage("--out is required");
  try {
    auto det = train::load_trained_detector(checkpoint);
    coco::AnnotatedImage input{coco::read_image(image_path), {}, {}};
    const int h = input.image.h, w = input.image.w;
    coco::AnnotatedImage resized = input;
    coco::resize_short_side(resized, det.info.val_size, det.info.max_size);
    coco::Batch batch = coco::collate({coco::to_sample(resized, 0, h, w)}, {});

    auto out = models::detector_forward(det.params, batch.images, batch.mask, det.info.model);
    array sizes(std::vector<int32_t>{h, w}, {1, 2}, float32);
    auto d = models::post_process(out.logits.back(), out.boxes.back(), sizes, top);
    const auto scores = d.scores.to_vector<double>();
    const auto labels = d.labels.to_vector<int64_t>();
    const auto boxes = d.boxes.to_vector<double>();

    std::vector<train::DrawnBox> drawn;
    fmt::print(
        "{}: {} x {} (w x h), {} detections with score >= {}\n", image_path, w, h,
        std::count_if(scores.begin(), scores.end(), [&](double s) { return s >= threshold; }),
        threshold);
    fmt::print("{:>5} {:>8} {:<16} {:>6} {:>8} {:>8} {:>8} {:>8}\n", "label", "category", "name",
               "score", "x0", "y0", "x1", "y1");
    for (size_t i = 0; i < scores.size(); ++i) {
      if (scores[i] < threshold) continue;  // scores are descending, but NaN-safe
      const int64_t l = labels[i];
      const std::string& name = det.info.class_names[l];
      const std::string shown = name.empty() ? fmt::format("class {}", l) : name;
      std::array<double, 4> xyxy{boxes[i * 4], boxes[i * 4 + 1], boxes[i * 4 + 2],
                                 boxes[i * 4 + 3]};
      fmt::print("{:>5} {:>8} {:<16} {:>6.3f} {:>8.1f} {:>8.1f} {:>8.1f} {:>8.1f}\n", l,
                 det.info.category_ids[l], shown, scores[i], xyxy[0], xyxy[1], xyxy[2], xyxy[3]);
      drawn.push_back({xyxy, l, fmt::format("{} {:.2f}", shown, scores[i])});
    }
    train::draw_detections(input.image, drawn);
    coco::write_png(out_path, input.image);
    fmt::print("wrote {}\n", out_path);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "detect: {}\n", e.what());
    return 1;
  }
}

// Runs a detector checkpoint written by train_coco on one image and draws
// the detections.
//
//   detect --checkpoint FILE --image IN.(jpg|png) --out OUT.png [--threshold 0.3] [--top 100]
//          [--device cpu|gpu|gpu:N]
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

#include "flags.h"
#include "mfx/cpu.h"
#include "mfx/coco/image.h"
#include "mfx/coco/loader.h"
#include "mfx/detr/deformable_detr.h"
#include "mfx/gpu.h"
#include "mfx/train/checkpoint_info.h"
#include "mfx/train/draw.h"

using namespace mfx;

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string checkpoint, image_path, out_path, device_spec = "cpu";
  double threshold = 0.3;
  int64_t top = 100;
  examples::Flags flags("detect",
                        "Runs a train_coco checkpoint on one image, prints the detections and\n"
                        "draws them into a PNG.");
  flags.text("--checkpoint", "FILE", checkpoint, "a train_coco checkpoint (required)");
  flags.text("--image", "IN.jpg|png", image_path, "the image (required)");
  flags.text("--out", "OUT.png", out_path, "where the drawing goes (required)");
  flags.number("--threshold", "X", threshold, "keep detections with score >= X", 0.0, 1.0);
  flags.number("--top", "K", top, "the K best (query, class) pairs before the threshold",
               int64_t{1});
  flags.text("--device", "cpu|gpu|gpu:N", device_spec, "where the detector runs");
  flags.parse(argc, argv);
  if (checkpoint.empty()) flags.fail("--checkpoint is required");
  if (image_path.empty()) flags.fail("--image is required");
  if (out_path.empty()) flags.fail("--out is required");
  Device device = Device::cpu();
  try {
    device = Device::parse(device_spec);
  } catch (const std::exception& e) {
    flags.fail(std::string("--device: ") + e.what());
  }
  try {
    auto det = train::load_trained_detector(checkpoint);
    coco::AnnotatedImage input{coco::read_image(image_path), {}, {}};
    const int h = input.image.h, w = input.image.w;
    coco::AnnotatedImage resized = input;
    coco::resize_short_side(resized, det.info.val_size, det.info.max_size);
    coco::Batch batch = coco::collate({coco::to_sample(resized, 0, h, w)}, {});

    // On a GPU: the weights and the batch go there, and so does what the
    // forward creates; the results come back with to_vector.
    if (device != Device::cpu()) set_default_device(device);
    Tree params = device == Device::cpu()
                      ? det.params
                      : det.params.map([&](const array& x) { return to_device(x, device); });
    array images = device == Device::cpu() ? batch.images : to_device(batch.images, device);
    array mask = device == Device::cpu() ? batch.mask : to_device(batch.mask, device);
    auto out = detr::detector_forward(params, images, mask, det.info.model);
    array sizes(std::vector<int32_t>{h, w}, {1, 2}, float32);
    if (device != Device::cpu()) sizes = to_device(sizes, device);
    auto d = detr::post_process(out.logits.back(), out.boxes.back(), sizes, top);
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

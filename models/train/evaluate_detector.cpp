// evaluate_detector (see include/mfx/train/fit.h): the detector over a
// dataset in batches, post-processed detections, COCOeval.
#include <optional>

#include "device_moves.h"
#include "device_scope.h"
#include "mfx/coco/eval.h"
#include "mfx/coco/loader.h"
#include "mfx/train/coco_results.h"
#include "mfx/train/fit.h"

namespace mfx::train {

using detail::DefaultDeviceScope;
using detail::on;

std::array<double, 12> evaluate_detector(const Tree& params, const detr::DetectorConfig& model,
                                         const coco::DetectionDataset& data, int batch_size,
                                         const std::string& results_json, Device device) {
  // What the forward creates (position encodings, constants) goes to `device` too.
  std::optional<DefaultDeviceScope> on_gpu;
  if (device.type == Device::Type::gpu) on_gpu.emplace(device);
  std::vector<coco::Detection> dets;
  std::vector<coco::Sample> samples;
  auto flush = [&] {
    if (samples.empty()) return;
    coco::Batch b = coco::collate(samples, {});
    auto out =
        detr::detector_forward(params, on(b.images, device), on(b.mask, device), model, false);
    std::vector<int32_t> sizes;
    for (auto& s : b.orig_sizes) {
      sizes.push_back(s[0]);
      sizes.push_back(s[1]);
    }
    array target_sizes = on(array(sizes, {b.size(), 2}, float32), device);
    auto det = detr::post_process(out.logits.back(), out.boxes.back(), target_sizes);
    auto more =
        to_coco_results(det.scores, det.labels, det.boxes, b.image_ids, data.category_ids());
    dets.insert(dets.end(), more.begin(), more.end());
    samples.clear();
  };
  for (size_t i = 0; i < data.size(); ++i) {
    samples.push_back(data.get(i));
    if (static_cast<int>(samples.size()) == batch_size) flush();
  }
  flush();
  if (!results_json.empty()) coco::save_results(results_json, dets);
  return coco::evaluate(data.dataset(), dets).stats;
}

}  // namespace mfx::train

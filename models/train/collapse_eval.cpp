// probe_collapse_metrics (see include/mfx/train/fit.h): a forward pass over
// a few validation images, the probe's attention on the last decoder layer,
// and criteria::collapse_counts per batch.
#include <fmt/format.h>

#include <optional>
#include <stdexcept>

#include "device_scope.h"
#include "mfx/coco/loader.h"
#include "mfx/gpu.h"
#include "mfx/train/fit.h"

namespace mfx::train {

criteria::CollapseMetrics probe_collapse_metrics(const Tree& params,
                                                 const detr::DetectorConfig& model,
                                                 const criteria::MatchFreeConfig& matchfree,
                                                 const coco::DetectionDataset& data, int batch_size,
                                                 int64_t max_images, Device device) {
  if (batch_size < 1 || max_images < 0) {
    throw std::invalid_argument(
        fmt::format("[probe_collapse_metrics] batch_size ({}) must be >= 1 and max_images ({}) "
                    ">= 0",
                    batch_size, max_images));
  }
  std::optional<detail::DefaultDeviceScope> on_gpu;
  if (device.type == Device::Type::gpu) on_gpu.emplace(device);
  auto on = [&](const array& x) { return device == Device::cpu() ? x : to_device(x, device); };
  const int64_t n = std::min<int64_t>(max_images, static_cast<int64_t>(data.size()));
  criteria::CollapseCounts counts;
  std::vector<coco::Sample> samples;
  for (int64_t i = 0; i < n; ++i) {
    samples.push_back(data.get(static_cast<size_t>(i)));
    if (static_cast<int>(samples.size()) < batch_size && i + 1 < n) continue;
    // Buckets as in training, so an image without objects still gives M > 0.
    coco::Batch b = coco::collate(samples, {8, 16, 32, 64, 128});
    samples.clear();
    criteria::DecoderOutputs out =
        detr::detector_forward(params["model"], on(b.images), on(b.mask), model, false);
    criteria::Targets t{on(b.labels), on(b.boxes), on(b.valid)};
    array a = criteria::probe_attention(params["probe"], out.logits.back(), out.boxes.back(),
                                        out.hidden.back(), t, matchfree);
    counts += criteria::collapse_counts(a, t.mask, out.logits.back());
  }
  return criteria::collapse_metrics(counts);
}

}  // namespace mfx::train

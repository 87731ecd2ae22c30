// Copies of training data onto the run's device (internal; the step, the
// evaluation and the collapse metrics share them).
#pragma once

#include "mfx/coco/loader.h"
#include "mfx/detr/detector.h"
#include "mfx/gpu.h"
#include "mfx/tree.h"

namespace mfx::train::detail {

/// `x` on `device`; unchanged when both are the CPU.
inline array on(const array& x, Device device) {
  return device == Device::cpu() && !x.on_gpu() ? x : to_device(x, device);
}

inline Tree on(const Tree& t, Device device) {
  return t.map([device](const array& x) { return on(x, device); });
}

/// A loader batch as the criteria take it, on `device`.
inline detr::Batch to_detr(const coco::Batch& b, Device device = Device::cpu()) {
  return {on(b.images, device), on(b.mask, device),
          criteria::Targets{on(b.labels, device), on(b.boxes, device), on(b.valid, device)}};
}

}  // namespace mfx::train::detail

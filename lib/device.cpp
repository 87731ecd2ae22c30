#include "mfx/device.h"

#include <stdexcept>

#include "cuda/runtime.h"

namespace mfx {

std::string Device::str() const {
  return (type == Type::cpu ? "cpu:" : "gpu:") + std::to_string(index);
}

static Device& default_device_slot() {
  static Device d = Device::cpu();
  return d;
}

Device default_device() { return default_device_slot(); }

void set_default_device(Device d) {
  if (d.type == Device::Type::gpu) cuda::require_device(d.index, "set_default_device");
  default_device_slot() = d;
}

}  // namespace mfx

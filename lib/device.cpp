#include "mfx/device.h"

#include <stdexcept>

#include "cuda/runtime.h"

namespace mfx {

std::string Device::str() const {
  return (type == Type::cpu ? "cpu:" : "gpu:") + std::to_string(index);
}

Device Device::parse(const std::string& spec) {
  if (spec == "cpu") return cpu();
  if (spec == "gpu" || spec.rfind("gpu:", 0) == 0) {
    int index = 0;
    if (spec != "gpu") {
      size_t used = 0;
      try {
        index = std::stoi(spec.substr(4), &used);
      } catch (const std::logic_error&) {
        used = 0;
      }
      if (used == 0 || used != spec.size() - 4 || index < 0) {
        throw std::invalid_argument("[Device::parse] '" + spec + "' is not cpu, gpu or gpu:N");
      }
    }
    cuda::require_device(index, "Device::parse");
    return gpu(index);
  }
  throw std::invalid_argument("[Device::parse] '" + spec + "' is not cpu, gpu or gpu:N");
}

static Device& default_device_slot() {
  static Device d = Device::cpu();
  return d;
}

Device default_device() {
  return default_device_slot();
}

void set_default_device(Device d) {
  if (d.type == Device::Type::gpu) cuda::require_device(d.index, "set_default_device");
  default_device_slot() = d;
}

}  // namespace mfx

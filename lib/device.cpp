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
      const std::string digits = spec.substr(4);
      const bool ok = !digits.empty() && digits.size() <= 6 &&
                      digits.find_first_not_of("0123456789") == std::string::npos;
      if (ok) index = std::stoi(digits);
      if (!ok) {
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

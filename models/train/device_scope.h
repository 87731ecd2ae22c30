// Sets the default device for a GPU run and restores it afterwards
// (internal; fit, evaluation and the collapse metrics share it).
#pragma once

#include "mfx/device.h"

namespace mfx::train::detail {

class DefaultDeviceScope {
 public:
  explicit DefaultDeviceScope(Device d) : saved_(default_device()) { set_default_device(d); }
  ~DefaultDeviceScope() { set_default_device(saved_); }
  DefaultDeviceScope(const DefaultDeviceScope&) = delete;
  DefaultDeviceScope& operator=(const DefaultDeviceScope&) = delete;

 private:
  Device saved_;
};

}  // namespace mfx::train::detail

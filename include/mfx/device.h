// Where arrays live and kernels run.
#pragma once

#include <string>

namespace mfx {

/// A compute device. Only the CPU has kernels in this build; the GPU type is
/// reserved for the CUDA runtime.
struct Device {
  enum class Type { cpu, gpu };
  Type type = Type::cpu;
  int index = 0;

  static Device cpu() { return {Type::cpu, 0}; }
  static Device gpu(int i = 0) { return {Type::gpu, i}; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

/// The device new arrays and ops use when none is given.
Device default_device();
void set_default_device(Device d);

}  // namespace mfx

// Where arrays live and kernels run.
#pragma once

#include <string>

namespace mfx {

/// A compute device: the host CPU or a CUDA GPU (see mfx/gpu.h for where ops
/// run and how data moves between devices).
struct Device {
  enum class Type { cpu, gpu };
  Type type = Type::cpu;
  int index = 0;

  static Device cpu() { return {Type::cpu, 0}; }
  static Device gpu(int i = 0) { return {Type::gpu, i}; }
  bool operator==(const Device&) const = default;
  std::string str() const;
  /// "cpu", "gpu" (GPU 0) or "gpu:N", as command lines take it. Throws
  /// std::invalid_argument for another spelling or a GPU that does not exist,
  /// std::runtime_error "... no GPU: <why>" when no GPU works.
  static Device parse(const std::string& spec);
};

/// The device ops created from now on run on when none of their inputs lives
/// on a GPU. Setting a GPU throws when no GPU is available.
Device default_device();
void set_default_device(Device d);

}  // namespace mfx

// Binding entry points of a dlopen'ed library (the CUDA driver, cuBLAS) to
// typed function pointers (internal).
#pragma once

#include <dlfcn.h>

#include <string>

namespace mfx::cuda {

/// fn = dlsym(lib, name); a missing symbol is appended to `missing`
/// (comma-separated) so one message can list all of them.
template <typename F>
bool bind_symbol(void* lib, F*& fn, const char* name, std::string& missing) {
  fn = reinterpret_cast<F*>(dlsym(lib, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
  return fn != nullptr;
}

}  // namespace mfx::cuda

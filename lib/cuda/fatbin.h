// Functions of the fatbins nvcc builds from lib/cuda/kernels (internal): the
// image is loaded once per context on first use and each function looked up
// once, so launchers only name what they call.
#pragma once

#include <cstddef>
#include <string>

#include "cuda/driver.h"

namespace mfx::cuda {

/// The kernel `name` of the embedded fatbin `image` (`size` bytes) in the
/// current context. Throws std::runtime_error "[<op>] this build has no CUDA
/// kernels ..." when size is 0 (no nvcc at configure time), and the driver's
/// error when loading or the lookup fails.
CUfunction fatbin_function(const unsigned char* image, size_t size, const std::string& name,
                           const char* op);

}  // namespace mfx::cuda

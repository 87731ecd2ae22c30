// Internal entry points of the JPEG and PNG codecs (models/coco/image_*.cpp).
#pragma once

#include "mfx/coco/image.h"

namespace mfx::coco::detail {

/// Larger images are treated as corrupt headers (2^28 pixels, 768 MiB of RGB).
constexpr uint64_t kMaxImagePixels = uint64_t{1} << 28;

bool is_jpeg(const uint8_t* data, size_t size);
bool is_png(const uint8_t* data, size_t size);

/// Both throw std::runtime_error naming `name` and the decoder's message.
RgbImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name);
RgbImage decode_png(const uint8_t* data, size_t size, const std::string& name);

/// Throws std::invalid_argument naming `op` when the image is empty or its
/// pixel buffer does not hold h * w * 3 bytes.
void check_image(const RgbImage& img, const char* op);

}  // namespace mfx::coco::detail

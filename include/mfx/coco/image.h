// 8-bit RGB images and their JPEG / PNG codecs (libjpeg-turbo, libpng), used
// by the COCO data pipeline and the synthetic set generator.
//
// (The struct is RgbImage, not Image: mfx::coco::Image is already the
// "images" entry of an instances JSON in mfx/coco/dataset.h.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mfx::coco {

/// Pixels in row-major order, 3 bytes (R, G, B) per pixel: rgb.size() == h * w * 3.
struct RgbImage {
  int h = 0;
  int w = 0;
  std::vector<uint8_t> rgb;

  RgbImage() = default;
  /// An h x w image filled with black.
  RgbImage(int h, int w) : h(h), w(w), rgb(static_cast<size_t>(h) * w * 3, 0) {}
  /// Pointer to the 3 channels of pixel (y, x).
  uint8_t* at(int y, int x) { return rgb.data() + (static_cast<size_t>(y) * w + x) * 3; }
  const uint8_t* at(int y, int x) const {
    return rgb.data() + (static_cast<size_t>(y) * w + x) * 3;
  }
};

/// Decodes JPEG or PNG bytes, chosen by the magic bytes (not the name).
/// Grayscale and palette images are expanded to RGB; PNG alpha is removed and
/// 16-bit PNG reduced to 8 bits by libpng's simplified API. Throws
/// std::runtime_error naming `name` and the decoder's message for unknown
/// formats, corrupt data and truncated files (a JPEG that ends before its
/// last scan is an error, not a grey-filled image).
RgbImage decode_image(const uint8_t* data, size_t size, const std::string& name);
/// Reads and decodes a JPEG or PNG file (see decode_image); errors name the path.
RgbImage read_image(const std::string& path);

/// JPEG bytes (baseline, 4:2:0, `quality` in [1, 100]). Deterministic: the
/// same image and quality give the same bytes. Throws std::invalid_argument
/// for an empty / inconsistent image or a bad quality.
std::vector<uint8_t> encode_jpeg(const RgbImage& img, int quality = 90);
/// PNG bytes (8-bit RGB, lossless).
std::vector<uint8_t> encode_png(const RgbImage& img);

/// Writes encode_jpeg / encode_png atomically (temporary file, fsync,
/// rename). Throws std::runtime_error naming the path on I/O errors.
void write_jpeg(const std::string& path, const RgbImage& img, int quality = 90);
void write_png(const std::string& path, const RgbImage& img);

}  // namespace mfx::coco

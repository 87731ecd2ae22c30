// PNG through libpng's simplified API (png_image), which handles libpng's
// longjmp-based errors internally and reports them in png_image::message.
#include <fmt/format.h>
#include <png.h>

#include <stdexcept>

#include "coco/image_codecs.h"

namespace mfx::coco::detail {

bool is_png(const uint8_t* data, size_t size) {
  static const uint8_t kMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size < 8) return false;
  for (int i = 0; i < 8; ++i) {
    if (data[i] != kMagic[i]) return false;
  }
  return true;
}

RgbImage decode_png(const uint8_t* data, size_t size, const std::string& name) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  auto fail = [&](const char* stage) {
    std::string msg = png.message;
    png_image_free(&png);
    throw std::runtime_error(
        fmt::format("[coco::read_image] {}: PNG error ({}): {}", name, stage, msg));
  };
  if (!png_image_begin_read_from_memory(&png, data, size)) fail("header");
  png.format = PNG_FORMAT_RGB;
  // A corrupt header can claim any size: refuse rather than allocate it.
  if (static_cast<uint64_t>(png.width) * png.height > kMaxImagePixels) {
    png_image_free(&png);
    throw std::runtime_error(
        fmt::format("[coco::read_image] {}: PNG claims {}x{} pixels", name, png.width, png.height));
  }
  RgbImage img;
  img.h = static_cast<int>(png.height);
  img.w = static_cast<int>(png.width);
  img.rgb.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, img.rgb.data(), 0, nullptr)) fail("data");
  png_image_free(&png);
  return img;
}

}  // namespace mfx::coco::detail

namespace mfx::coco {

std::vector<uint8_t> encode_png(const RgbImage& img) {
  detail::check_image(img, "coco::encode_png");
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(img.w);
  png.height = static_cast<png_uint_32>(img.h);
  png.format = PNG_FORMAT_RGB;
  // First call sizes the output, second writes it.
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, img.rgb.data(), 0, nullptr)) {
    std::string msg = png.message;
    png_image_free(&png);
    throw std::runtime_error(fmt::format("[coco::encode_png] PNG error: {}", msg));
  }
  std::vector<uint8_t> out(size);
  if (!png_image_write_to_memory(&png, out.data(), &size, 0, img.rgb.data(), 0, nullptr)) {
    std::string msg = png.message;
    png_image_free(&png);
    throw std::runtime_error(fmt::format("[coco::encode_png] PNG error: {}", msg));
  }
  out.resize(size);
  png_image_free(&png);
  return out;
}

}  // namespace mfx::coco

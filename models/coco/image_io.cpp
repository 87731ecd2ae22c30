// Format detection and file I/O for the image codecs.
#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "coco/image_codecs.h"
#include "io/atomic_file.h"

namespace mfx::coco {

namespace detail {

void check_image(const RgbImage& img, const char* op) {
  if (img.h <= 0 || img.w <= 0 ||
      img.rgb.size() != static_cast<size_t>(img.h) * static_cast<size_t>(img.w) * 3) {
    throw std::invalid_argument(
        fmt::format("[{}] image must be non-empty with h * w * 3 bytes, got {}x{} with {} bytes",
                    op, img.h, img.w, img.rgb.size()));
  }
}

}  // namespace detail

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, const char* op) {
  io::AtomicFile file(path, op);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace

RgbImage decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (detail::is_jpeg(data, size)) return detail::decode_jpeg(data, size, name);
  if (detail::is_png(data, size)) return detail::decode_png(data, size, name);
  throw std::runtime_error(fmt::format(
      "[coco::read_image] {}: not a JPEG or PNG file ({} bytes, unknown magic)", name, size));
}

RgbImage read_image(const std::string& path) {
  // A directory opens as a stream on Linux and fails only when read, with
  // an exception that does not name the path.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error(
        fmt::format("[coco::read_image] {} is a directory, not an image file", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(
        fmt::format("[coco::read_image] cannot open {}: {}", path, std::strerror(errno)));
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(fmt::format("[coco::read_image] error reading {}", path));
  return decode_image(bytes.data(), bytes.size(), path);
}

void write_jpeg(const std::string& path, const RgbImage& img, int quality) {
  write_bytes(path, encode_jpeg(img, quality), "coco::write_jpeg");
}

void write_png(const std::string& path, const RgbImage& img) {
  write_bytes(path, encode_png(img), "coco::write_png");
}

}  // namespace mfx::coco

// JPEG through libjpeg-turbo's libjpeg API. libjpeg reports fatal errors by
// calling error_exit, which must not return: it longjmps back to the
// function that called setjmp. Only C frames of libjpeg are skipped, and the
// frame holding the jmp_buf keeps no C++ object that changes after setjmp
// (outputs go through pointers), so nothing is leaked or left half-built.
#include <fmt/format.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <stdexcept>

// jpeglib.h needs size_t and FILE declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "coco/image_codecs.h"

namespace mfx::coco::detail {

namespace {

struct ErrorState {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorState*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are ignored (many real COCO files carry "extraneous bytes"
// warnings and decode fine), except where data is missing: libjpeg would
// fill the missing rows with grey, which silently corrupts a training image.
// That is the end of the file inside a scan (JWRN_JPEG_EOF) and a marker
// where the scan still needs data (JWRN_HIT_MARKER: a scan cut short and
// followed by another marker, EOI included).
void on_message(j_common_ptr cinfo, int level) {
  const int code = cinfo->err->msg_code;
  if (level == -1 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) on_error(cinfo);
}

void install(ErrorState& err) {
  jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_error;
  err.mgr.emit_message = on_message;
  err.message[0] = '\0';
}

// Returns false with err->message set on failure. `out` is written only
// through the pointer.
bool decode_impl(const uint8_t* data, size_t size, RgbImage* out, ErrorState* err) {
  jpeg_decompress_struct cinfo;
  install(*err);
  cinfo.err = &err->mgr;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != 3) {
    std::snprintf(err->message, sizeof(err->message), "unsupported colour space (%d components)",
                  cinfo.output_components);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (static_cast<uint64_t>(cinfo.output_width) * cinfo.output_height > kMaxImagePixels) {
    std::snprintf(err->message, sizeof(err->message), "image claims %ux%u pixels",
                  cinfo.output_width, cinfo.output_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  out->h = static_cast<int>(cinfo.output_height);
  out->w = static_cast<int>(cinfo.output_width);
  out->rgb.resize(static_cast<size_t>(out->h) * out->w * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->rgb.data() + static_cast<size_t>(cinfo.output_scanline) * out->w * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

bool encode_impl(const RgbImage* img, int quality, unsigned char** buf, unsigned long* len,
                 ErrorState* err) {
  jpeg_compress_struct cinfo;
  install(*err);
  cinfo.err = &err->mgr;
  if (setjmp(err->jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, buf, len);
  cinfo.image_width = static_cast<JDIMENSION>(img->w);
  cinfo.image_height = static_cast<JDIMENSION>(img->h);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  // The integer DCT gives the same bytes on every CPU (SIMD or not).
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    // libjpeg's API takes non-const rows; it only reads them.
    JSAMPROW row = const_cast<uint8_t*>(img->rgb.data()) +
                   static_cast<size_t>(cinfo.next_scanline) * img->w * 3;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

}  // namespace

bool is_jpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

RgbImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  RgbImage img;
  ErrorState err;
  if (!decode_impl(data, size, &img, &err)) {
    throw std::runtime_error(
        fmt::format("[coco::read_image] {}: JPEG error: {}", name, err.message));
  }
  return img;
}

}  // namespace mfx::coco::detail

namespace mfx::coco {

std::vector<uint8_t> encode_jpeg(const RgbImage& img, int quality) {
  detail::check_image(img, "coco::encode_jpeg");
  if (quality < 1 || quality > 100) {
    throw std::invalid_argument(
        fmt::format("[coco::encode_jpeg] quality must be in [1, 100], got {}", quality));
  }
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  detail::ErrorState err;
  bool ok = detail::encode_impl(&img, quality, &buf, &len, &err);
  std::vector<uint8_t> out;
  if (ok) out.assign(buf, buf + len);
  std::free(buf);  // jpeg_mem_dest allocates with malloc and leaves the buffer to us
  if (!ok) throw std::runtime_error(fmt::format("[coco::encode_jpeg] JPEG error: {}", err.message));
  return out;
}

}  // namespace mfx::coco

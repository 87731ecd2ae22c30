// Box outlines and labels for examples/detect.
#include "mfx/train/draw.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "bitmap_font.h"
#include "canvas.h"
#include "mfx/train/plot.h"

namespace mfx::train {

namespace {

// Pixel block [x0, x1] x [y0, y1] (inclusive) covered by a box.
struct Block {
  int x0, y0, x1, y1;
};

// Edges beyond the image are moved to 2 pixels outside it: the outline
// stays invisible there and loops stay short for far-away coordinates.
Block to_block(const std::array<double, 4>& b, int w, int h) {
  auto lo = [](double v, int n) {
    return static_cast<int>(std::clamp(std::floor(v), -2.0, n + 2.0));
  };
  auto hi = [](double v, int n) {
    return static_cast<int>(std::clamp(std::ceil(v), -1.0, n + 3.0)) - 1;
  };
  Block k{lo(b[0], w), lo(b[1], h), hi(b[2], w), hi(b[3], h)};
  k.x1 = std::max(k.x1, k.x0);
  k.y1 = std::max(k.y1, k.y0);
  return k;
}

detail::Rgb text_colour(const detail::Rgb& bg) {
  const double luma = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2];
  return luma > 140 ? detail::Rgb{0, 0, 0} : detail::Rgb{255, 255, 255};
}

}  // namespace

void draw_detections(coco::RgbImage& img, const std::vector<DrawnBox>& boxes, int text_scale) {
  if (text_scale < 0) {
    throw std::invalid_argument(
        fmt::format("[draw_detections] text_scale must be >= 0, got {}", text_scale));
  }
  for (size_t i = 0; i < boxes.size(); ++i) {
    const auto& b = boxes[i].xyxy;
    bool finite = std::all_of(b.begin(), b.end(), [](double v) { return std::isfinite(v); });
    if (!finite || b[2] < b[0] || b[3] < b[1]) {
      throw std::invalid_argument(
          fmt::format("[draw_detections] box {} ({}, {}, {}, {}) must be finite with x0 <= x1 "
                      "and y0 <= y1",
                      i, b[0], b[1], b[2], b[3]));
    }
  }
  const int scale = text_scale > 0 ? text_scale : std::max(1, std::min(img.h, img.w) / 320);
  detail::Canvas cv(img);
  for (size_t n = boxes.size(); n-- > 0;) {
    const DrawnBox& d = boxes[n];
    const detail::Rgb colour = series_colour(static_cast<size_t>(std::max<int64_t>(d.label, 0)));
    const Block k = to_block(d.xyxy, img.w, img.h);
    if (k.x1 < 0 || k.y1 < 0 || k.x0 >= img.w || k.y0 >= img.h) continue;  // off the image
    // Two nested 1-pixel rectangles; the inner one collapses onto the outer
    // one for blocks thinner than 2 pixels.
    cv.rect(k.x0, k.y0, k.x1, k.y1, colour);
    cv.rect(std::min(k.x0 + 1, k.x1), std::min(k.y0 + 1, k.y1), std::max(k.x1 - 1, k.x0),
            std::max(k.y1 - 1, k.y0), colour);
    if (d.text.empty()) continue;
    const int pad = scale;
    const int w = font::text_width(d.text, scale) + 2 * pad;
    const int h = font::kGlyphHeight * scale + 2 * pad;
    const int top = k.y0 - h >= 0 ? k.y0 - h : std::max(k.y0, 0);
    const int left = std::max(0, std::min(k.x0, img.w - w));
    cv.fill(left, top, left + w - 1, top + h - 1, colour);
    cv.text(left + pad, top + pad, d.text, scale, text_colour(colour));
  }
}

}  // namespace mfx::train

// Pixel drawing on an RgbImage for the PNG outputs of training (line charts,
// detections): clipped pixels, filled and outlined rectangles, 2-pixel lines
// and bitmap-font text. Internal to mfx_models.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "bitmap_font.h"
#include "mfx/coco/image.h"

namespace mfx::train::detail {

using Rgb = std::array<uint8_t, 3>;

class Canvas {
 public:
  explicit Canvas(coco::RgbImage& img) : img_(img) {}

  void set(int x, int y, Rgb c) {
    if (x < clip_x0_ || y < clip_y0_ || x > clip_x1_ || y > clip_y1_) return;
    if (x < 0 || y < 0 || x >= img_.w || y >= img_.h) return;
    std::copy(c.begin(), c.end(), img_.at(y, x));
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, c);
  }
  void rect(int x0, int y0, int x1, int y1, Rgb c) {
    fill(x0, y0, x1, y0, c);
    fill(x0, y1, x1, y1, c);
    fill(x0, y0, x0, y1, c);
    fill(x1, y0, x1, y1, c);
  }
  // A 2-pixel-wide line (Bresenham, each step sets a 2x2 block).
  void line(int x0, int y0, int x1, int y1, Rgb c) {
    int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    while (true) {
      fill(x0, y0, x0 + 1, y0 + 1, c);
      if (x0 == x1 && y0 == y1) break;
      int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }
  // Text with its top-left corner at (x, y).
  void text(int x, int y, const std::string& s, int scale, Rgb c) {
    for (size_t k = 0; k < s.size(); ++k) {
      int gx = x + static_cast<int>(k) * font::kAdvance * scale;
      for (int r = 0; r < font::kGlyphHeight; ++r)
        for (int col = 0; col < font::kGlyphWidth; ++col)
          if (font::pixel(s[k], r, col))
            fill(gx + col * scale, y + r * scale, gx + col * scale + scale - 1,
                 y + r * scale + scale - 1, c);
    }
  }
  // Text rotated a quarter turn counter-clockwise, read bottom to top; (x, y)
  // is the bottom-left corner of the rotated block.
  void text_up(int x, int y, const std::string& s, Rgb c) {
    for (size_t k = 0; k < s.size(); ++k) {
      int base = static_cast<int>(k) * font::kAdvance;
      for (int r = 0; r < font::kGlyphHeight; ++r)
        for (int col = 0; col < font::kGlyphWidth; ++col)
          if (font::pixel(s[k], r, col)) set(x + r, y - (base + col), c);
    }
  }
  void clip(int x0, int y0, int x1, int y1) {
    clip_x0_ = x0, clip_y0_ = y0, clip_x1_ = x1, clip_y1_ = y1;
  }
  void unclip() { clip(0, 0, img_.w - 1, img_.h - 1); }

 private:
  coco::RgbImage& img_;
  int clip_x0_ = 0, clip_y0_ = 0;
  int clip_x1_ = std::numeric_limits<int>::max(), clip_y1_ = std::numeric_limits<int>::max();
};

}  // namespace mfx::train::detail

// Shape rasterisation by pixel-centre tests over each shape's bounding box.
#include "coco/shapes.h"

#include <algorithm>
#include <cmath>

namespace mfx::coco::detail {

namespace {

uint8_t clamp_u8(int v) {
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

// Signed area test of the point against edge (a -> b).
double edge(double ax, double ay, double bx, double by, double px, double py) {
  return (bx - ax) * (py - ay) - (by - ay) * (px - ax);
}

}  // namespace

double fill_fraction(const ShapeSpec& s) {
  const double t = s.thickness;
  switch (s.kind) {
    case kEllipse:
      return M_PI / 4;
    case kTriangle:
      return 0.5;
    case kRing:
      return M_PI / 4 * (1 - t * t);
    case kCross:
      return 2 * t - t * t;
    default:
      return 1.0;
  }
}

bool shape_contains(const ShapeSpec& s, double px, double py) {
  const double dx = (px - s.cx) / s.rx, dy = (py - s.cy) / s.ry;
  switch (s.kind) {
    case kRectangle:
      return std::abs(dx) <= 1 && std::abs(dy) <= 1;
    case kEllipse:
      return dx * dx + dy * dy <= 1;
    case kRing: {
      const double r2 = dx * dx + dy * dy;
      return r2 <= 1 && r2 >= s.thickness * s.thickness;
    }
    case kCross: {
      const double ax = std::abs(dx), ay = std::abs(dy);
      return (ax <= 1 && ay <= s.thickness) || (ay <= 1 && ax <= s.thickness);
    }
    case kTriangle: {
      const auto& v = s.tri;
      const double e0 = edge(v[0], v[1], v[2], v[3], px, py);
      const double e1 = edge(v[2], v[3], v[4], v[5], px, py);
      const double e2 = edge(v[4], v[5], v[0], v[1], px, py);
      return (e0 >= 0 && e1 >= 0 && e2 >= 0) || (e0 <= 0 && e1 <= 0 && e2 <= 0);
    }
    default:
      return false;
  }
}

DrawnShape draw_shape(RgbImage& img, const ShapeSpec& s, const std::array<uint8_t, 3>& color) {
  const int bx0 = std::max(0, static_cast<int>(std::floor(s.cx - s.rx)) - 1);
  const int by0 = std::max(0, static_cast<int>(std::floor(s.cy - s.ry)) - 1);
  const int bx1 = std::min(img.w, static_cast<int>(std::ceil(s.cx + s.rx)) + 1);
  const int by1 = std::min(img.h, static_cast<int>(std::ceil(s.cy + s.ry)) + 1);
  DrawnShape d{img.w, img.h, 0, 0, 0};
  for (int y = by0; y < by1; ++y) {
    for (int x = bx0; x < bx1; ++x) {
      if (!shape_contains(s, x + 0.5, y + 0.5)) continue;
      uint8_t* p = img.at(y, x);
      p[0] = color[0], p[1] = color[1], p[2] = color[2];
      d.x0 = std::min(d.x0, x), d.y0 = std::min(d.y0, y);
      d.x1 = std::max(d.x1, x + 1), d.y1 = std::max(d.y1, y + 1);
      ++d.area;
    }
  }
  if (d.area == 0) d = DrawnShape{};
  return d;
}

void draw_gradient(RgbImage& img, Rng& rng) {
  int c0[3], c1[3];
  for (int c = 0; c < 3; ++c) {
    c0[c] = static_cast<int>(rng.uniform_int(0, 255));
    c1[c] = static_cast<int>(rng.uniform_int(0, 255));
  }
  const double angle = rng.uniform(0, 2 * M_PI);
  const double ux = std::cos(angle), uy = std::sin(angle);
  // Project the corners to normalise the ramp to [0, 1] over the image.
  double lo = 0, hi = 0;
  for (double cx : {0.0, double(img.w)}) {
    for (double cy : {0.0, double(img.h)}) {
      lo = std::min(lo, cx * ux + cy * uy), hi = std::max(hi, cx * ux + cy * uy);
    }
  }
  const double span = std::max(hi - lo, 1e-9);
  for (int y = 0; y < img.h; ++y) {
    for (int x = 0; x < img.w; ++x) {
      const double t = ((x + 0.5) * ux + (y + 0.5) * uy - lo) / span;
      uint8_t* p = img.at(y, x);
      for (int c = 0; c < 3; ++c) {
        p[c] = clamp_u8(static_cast<int>(std::lround(c0[c] + t * (c1[c] - c0[c]))));
      }
    }
  }
}

void draw_distractor_line(RgbImage& img, Rng& rng) {
  const double x0 = rng.uniform(0, img.w), y0 = rng.uniform(0, img.h);
  const double x1 = rng.uniform(0, img.w), y1 = rng.uniform(0, img.h);
  const int width = static_cast<int>(rng.uniform_int(1, 2));
  uint8_t color[3];
  for (auto& c : color) c = static_cast<uint8_t>(rng.uniform_int(0, 255));
  const int steps = static_cast<int>(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const int x = static_cast<int>(x0 + t * (x1 - x0)), y = static_cast<int>(y0 + t * (y1 - y0));
    for (int oy = 0; oy < width; ++oy) {
      for (int ox = 0; ox < width; ++ox) {
        if (x + ox < img.w && y + oy < img.h) {
          uint8_t* p = img.at(y + oy, x + ox);
          p[0] = color[0], p[1] = color[1], p[2] = color[2];
        }
      }
    }
  }
}

void add_noise(RgbImage& img, Rng& rng, int amplitude) {
  if (amplitude <= 0) return;
  for (auto& v : img.rgb)
    v = clamp_u8(v + static_cast<int>(rng.uniform_int(-amplitude, amplitude)));
}

}  // namespace mfx::coco::detail

// Rasterising the synthetic set's shapes and clutter (internal).
#pragma once

#include <array>
#include <cstdint>

#include "coco/rng.h"
#include "mfx/coco/image.h"

namespace mfx::coco::detail {

enum ShapeKind { kRectangle = 0, kEllipse, kTriangle, kRing, kCross, kNumShapeKinds };

/// A shape inside the box centred at (cx, cy) with half extents (rx, ry).
struct ShapeSpec {
  int kind = kRectangle;
  double cx = 0, cy = 0, rx = 1, ry = 1;
  double thickness = 0.5;       ///< ring: inner / outer radius; cross: arm width / extent
  std::array<double, 6> tri{};  ///< triangle vertices (x0, y0, x1, y1, x2, y2)
};

/// Fraction of its box a shape of this kind roughly fills (to size boxes
/// from a target area).
double fill_fraction(const ShapeSpec& s);

/// Whether the point (px, py) lies in the shape.
bool shape_contains(const ShapeSpec& s, double px, double py);

/// Pixels painted by draw_shape: tight box [x0, x1) x [y0, y1) and count.
struct DrawnShape {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int64_t area = 0;
};

/// Paints every pixel whose centre lies in the shape with `color`.
DrawnShape draw_shape(RgbImage& img, const ShapeSpec& s, const std::array<uint8_t, 3>& color);

/// Fills the image with a linear gradient between two random colours in a
/// random direction.
void draw_gradient(RgbImage& img, Rng& rng);
/// A straight line of random colour and 1-2 px width between random points.
void draw_distractor_line(RgbImage& img, Rng& rng);
/// Adds uniform noise in [-amplitude, amplitude] to every channel.
void add_noise(RgbImage& img, Rng& rng, int amplitude);

}  // namespace mfx::coco::detail

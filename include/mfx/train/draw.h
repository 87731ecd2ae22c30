// Detections drawn onto an image (examples/detect): a 2-pixel outline per
// box in its class colour and a "name score" label in the built-in 5x7
// bitmap font (text is drawn in capital letters).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "mfx/coco/image.h"

namespace mfx::train {

/// One box to draw. Coordinates are continuous pixels (pixel column i spans
/// [i, i + 1)), as post_process returns them.
struct DrawnBox {
  std::array<double, 4> xyxy{};  ///< (x0, y0, x1, y1), x0 <= x1, y0 <= y1
  int64_t label = 0;             ///< class index: the colour is series_colour(label)
  std::string text;              ///< label text; empty draws no label
};

/// Draws the boxes in place, last to first so that the first (the highest
/// score when sorted) ends on top. A box covers the pixel columns
/// floor(x0) .. ceil(x1) - 1 and rows floor(y0) .. ceil(y1) - 1 (at least
/// one of each); its outline is the outer 2 pixels of that block, clipped to
/// the image. The label is a filled rectangle in the box's colour holding
/// the text (black or white, whichever contrasts), on top of the box's
/// top-left corner, or just inside the box when there is no room above.
/// `text_scale` (>= 1) multiplies the font size; 0 picks
/// max(1, min(h, w) / 320). Throws std::invalid_argument naming the box for
/// non-finite or inverted coordinates and for a negative `text_scale`.
void draw_detections(coco::RgbImage& img, const std::vector<DrawnBox>& boxes, int text_scale = 0);

}  // namespace mfx::train

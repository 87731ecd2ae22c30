// Line charts as PNG files (loss curves, AP curves) without any plotting
// library: axes with numbered ticks in a built-in 5x7 bitmap font (text is
// drawn in capital letters), light grid lines, one colour per series and a
// legend, rasterised into an RGB image.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mfx/coco/image.h"

namespace mfx::train {

/// One curve: points (x[i], y[i]), joined in order. Non-finite points are
/// skipped and break the line; a point without finite neighbours is drawn
/// as a dot.
struct Series {
  std::vector<double> x;
  std::vector<double> y;
};

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 800;
  int height = 500;
};

/// Colour of the i-th series in legend order (a 10-colour cycle).
std::array<uint8_t, 3> series_colour(size_t i);

/// Renders the chart: white background; series in the map's (sorted name)
/// order with series_colour(0), (1), ...; axis ranges from the finite data
/// extended to "nice" tick steps (1, 2 or 5 × 10^k; an empty or constant
/// range is widened). Throws std::invalid_argument naming the series when
/// x and y sizes differ, and for width < 200 or height < 150.
coco::RgbImage render_lines(const std::map<std::string, Series>& series,
                            const PlotOptions& options = {});

/// render_lines written to `png_path` (atomically, coco::write_png).
void plot_lines(const std::string& png_path, const std::map<std::string, Series>& series,
                const PlotOptions& options = {});

}  // namespace mfx::train

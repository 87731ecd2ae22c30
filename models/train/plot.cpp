// Line chart rasteriser: nice tick steps, a frame with grid lines, numbered
// ticks and labels in the bitmap font, 2-pixel Bresenham lines and a legend.
#include "mfx/train/plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "bitmap_font.h"
#include "canvas.h"

namespace mfx::train {

namespace {

using Rgb = std::array<uint8_t, 3>;

constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kFrame{70, 70, 70};
constexpr Rgb kGrid{228, 228, 228};
constexpr Rgb kWhite{255, 255, 255};
constexpr int kTick = 4;

using detail::Canvas;

// An axis: the data range widened to whole multiples of a 1/2/5 x 10^k step.
struct Axis {
  double lo = 0, hi = 1, step = 0.2;
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

double nice_step(double range, int target) {
  double raw = range / target;
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * mag;
}

std::string tick_label(double v, double step, double max_abs) {
  if (max_abs >= 1e6 || step < 1e-4) return fmt::format("{:.3g}", v);
  int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  return fmt::format("{:.{}f}", v, decimals);
}

Axis make_axis(double lo, double hi, int target) {
  if (!(lo <= hi)) lo = 0, hi = 1;  // no finite data
  if (hi - lo <= std::abs(hi) * 1e-12) {
    double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  Axis a;
  a.step = nice_step(hi - lo, target);
  double first = std::floor(lo / a.step + 1e-9);
  double last = std::ceil(hi / a.step - 1e-9);
  a.lo = first * a.step;
  a.hi = last * a.step;
  double max_abs = std::max(std::abs(a.lo), std::abs(a.hi));
  for (double k = first; k <= last + 0.5; k += 1) {
    double v = k * a.step;
    if (std::abs(v) < a.step * 1e-9) v = 0;  // no "-0.0"
    a.ticks.push_back(v);
    a.labels.push_back(tick_label(v, a.step, max_abs));
  }
  return a;
}

}  // namespace

std::array<uint8_t, 3> series_colour(size_t i) {
  static constexpr Rgb kPalette[] = {
      {31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kPalette[i % std::size(kPalette)];
}

coco::RgbImage render_lines(const std::map<std::string, Series>& series, const PlotOptions& opt) {
  if (opt.width < 200 || opt.height < 150) {
    throw std::invalid_argument(
        fmt::format("[plot_lines] the image must be at least 200x150 pixels, got {}x{}", opt.width,
                    opt.height));
  }
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (auto& [name, s] : series) {
    if (s.x.size() != s.y.size()) {
      throw std::invalid_argument(
          fmt::format("[plot_lines] series '{}' has {} x values and {} y values", name, s.x.size(),
                      s.y.size()));
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
    }
  }
  Axis ax = make_axis(xmin, xmax, 6);
  Axis ay = make_axis(ymin, ymax, 5);

  // Layout: margins sized from the text they hold.
  const int glyph_h = font::kGlyphHeight;
  int ytick_w = 0;
  for (auto& l : ay.labels) ytick_w = std::max(ytick_w, font::text_width(l));
  int left = 10 + (opt.y_label.empty() ? 0 : glyph_h + 8) + ytick_w + kTick + 4;
  int top = opt.title.empty() ? 12 : 2 * glyph_h + 18;
  int bottom = kTick + 4 + glyph_h + 10 + (opt.x_label.empty() ? 0 : glyph_h + 8);
  int right = std::max(20, font::text_width(ax.labels.back()) / 2 + 8);
  int px0 = left, px1 = opt.width - 1 - right, py0 = top, py1 = opt.height - 1 - bottom;

  coco::RgbImage img(opt.height, opt.width);
  std::fill(img.rgb.begin(), img.rgb.end(), uint8_t{255});
  Canvas cv(img);
  auto to_px = [&](double x) {
    return px0 + static_cast<int>(std::lround((x - ax.lo) / (ax.hi - ax.lo) * (px1 - px0)));
  };
  auto to_py = [&](double y) {
    return py1 - static_cast<int>(std::lround((y - ay.lo) / (ay.hi - ay.lo) * (py1 - py0)));
  };

  // Grid, frame, ticks and their numbers.
  int last_label_end = std::numeric_limits<int>::min();
  for (size_t i = 0; i < ax.ticks.size(); ++i) {
    int x = to_px(ax.ticks[i]);
    cv.fill(x, py0, x, py1, kGrid);
    cv.fill(x, py1, x, py1 + kTick, kFrame);
    int w = font::text_width(ax.labels[i]);
    if (x - w / 2 > last_label_end + 6) {  // skip labels that would overlap
      cv.text(x - w / 2, py1 + kTick + 4, ax.labels[i], 1, kBlack);
      last_label_end = x - w / 2 + w;
    }
  }
  for (size_t i = 0; i < ay.ticks.size(); ++i) {
    int y = to_py(ay.ticks[i]);
    cv.fill(px0, y, px1, y, kGrid);
    cv.fill(px0 - kTick, y, px0, y, kFrame);
    int w = font::text_width(ay.labels[i]);
    cv.text(px0 - kTick - 3 - w, y - glyph_h / 2, ay.labels[i], 1, kBlack);
  }
  cv.rect(px0, py0, px1, py1, kFrame);

  // Title and axis labels.
  if (!opt.title.empty()) {
    cv.text((opt.width - font::text_width(opt.title, 2)) / 2, 8, opt.title, 2, kBlack);
  }
  if (!opt.x_label.empty()) {
    cv.text((px0 + px1 - font::text_width(opt.x_label)) / 2, opt.height - 8 - glyph_h, opt.x_label,
            1, kBlack);
  }
  if (!opt.y_label.empty()) {
    cv.text_up(8, (py0 + py1 + font::text_width(opt.y_label)) / 2, opt.y_label, kBlack);
  }

  // Curves, clipped to the plot area.
  cv.clip(px0 + 1, py0 + 1, px1 - 1, py1 - 1);
  size_t index = 0;
  // Not a structured binding: clang before 16 cannot capture one in a lambda.
  for (auto& entry : series) {
    const auto& s = entry.second;
    Rgb c = series_colour(index++);
    auto finite = [&](size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); };
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!finite(i)) continue;
      bool prev = i > 0 && finite(i - 1);
      bool next = i + 1 < s.x.size() && finite(i + 1);
      int x = to_px(s.x[i]), y = to_py(s.y[i]);
      if (next) cv.line(x, y, to_px(s.x[i + 1]), to_py(s.y[i + 1]), c);
      if (!prev && !next) cv.fill(x - 1, y - 1, x + 1, y + 1, c);
    }
  }
  cv.unclip();

  // Legend in the top-right corner of the plot area.
  if (!series.empty()) {
    int text_w = 0;
    for (auto& [name, s] : series) text_w = std::max(text_w, font::text_width(name));
    int row_h = glyph_h + 5;
    int box_w = 8 + 20 + 6 + text_w + 8;
    int box_h = static_cast<int>(series.size()) * row_h + 8;
    int bx = px1 - 8 - box_w, by = py0 + 8;
    cv.fill(bx, by, bx + box_w, by + box_h, kWhite);
    cv.rect(bx, by, bx + box_w, by + box_h, kFrame);
    index = 0;
    for (auto& [name, s] : series) {
      int y = by + 6 + static_cast<int>(index) * row_h;
      cv.fill(bx + 8, y + glyph_h / 2 - 1, bx + 28, y + glyph_h / 2, series_colour(index));
      cv.text(bx + 34, y, name, 1, kBlack);
      ++index;
    }
  }
  return img;
}

void plot_lines(const std::string& png_path, const std::map<std::string, Series>& series,
                const PlotOptions& options) {
  coco::write_png(png_path, render_lines(series, options));
}

}  // namespace mfx::train

// Drawing detections (examples/detect): the outline covers exactly the outer
// 2 pixels of the box's pixel block, labels stay next to their box, boxes
// are clipped at the image border, bad boxes are rejected.
#include <set>
#include <utility>

#include "mfx/train/draw.h"
#include "mfx/train/plot.h"
#include "test_utils.h"

using namespace mfx;

namespace {

coco::RgbImage grey(int h, int w) {
  coco::RgbImage img(h, w);
  std::fill(img.rgb.begin(), img.rgb.end(), uint8_t{128});
  return img;
}

// (x, y) of every pixel that differs between a and b.
std::set<std::pair<int, int>> changed(const coco::RgbImage& a, const coco::RgbImage& b) {
  std::set<std::pair<int, int>> out;
  for (int y = 0; y < a.h; ++y)
    for (int x = 0; x < a.w; ++x)
      if (!std::equal(a.at(y, x), a.at(y, x) + 3, b.at(y, x))) out.insert({x, y});
  return out;
}

// The outer 2-pixel ring of columns x0..x1, rows y0..y1 (inclusive).
std::set<std::pair<int, int>> ring(int x0, int y0, int x1, int y1) {
  std::set<std::pair<int, int>> out;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x)
      if (x <= x0 + 1 || x >= x1 - 1 || y <= y0 + 1 || y >= y1 - 1) out.insert({x, y});
  return out;
}

}  // namespace

TEST_CASE("a box changes exactly its 2-pixel outline, in its class colour", "[detr][draw]") {
  const auto before = grey(64, 80);
  auto img = before;
  // Columns 10..29, rows 20..39: x1 = 30 is the right edge of column 29.
  train::draw_detections(img, {{{10.0, 20.0, 30.0, 40.0}, 2, ""}});
  CHECK(changed(before, img) == ring(10, 20, 29, 39));
  const auto c = train::series_colour(2);
  CHECK(std::equal(c.begin(), c.end(), img.at(20, 10)));
  CHECK(std::equal(c.begin(), c.end(), img.at(38, 29)));

  // Fractional edges cover every pixel they touch: floor(x0) .. ceil(x1) - 1.
  img = before;
  train::draw_detections(img, {{{10.4, 20.9, 29.2, 39.5}, 0, ""}});
  CHECK(changed(before, img) == ring(10, 20, 29, 39));
}

TEST_CASE("labels sit above the box, or inside it at the top edge", "[detr][draw]") {
  const auto before = grey(64, 80);
  auto img = before;
  train::draw_detections(img, {{{10.0, 20.0, 30.0, 40.0}, 1, "ab 0.50"}}, 1);
  const auto diff = changed(before, img);
  const auto outline = ring(10, 20, 29, 39);
  // Label block: text width 7 * 6 - 1 = 41 plus 1 pixel padding each side,
  // height 7 + 2, ending just above row 20.
  const int w = 41 + 2, h = 9;
  int label_pixels = 0;
  for (auto [x, y] : diff) {
    if (outline.count({x, y})) continue;
    INFO("pixel " << x << ", " << y);
    CHECK((x >= 10 && x < 10 + w && y >= 20 - h && y < 20));
    ++label_pixels;
  }
  // The whole block is filled (background colour differs from the grey).
  CHECK(label_pixels == w * h);
  // Some text pixels are drawn in a contrasting colour (white on orange: 255,127,14 is bright,
  // so black).
  int dark = 0;
  for (int y = 20 - h; y < 20; ++y)
    for (int x = 10; x < 10 + w; ++x) dark += img.at(y, x)[0] == 0;
  CHECK(dark > 10);

  // No room above: the label goes inside the box, at its top-left corner.
  img = before;
  train::draw_detections(img, {{{5.0, 2.0, 60.0, 50.0}, 1, "x"}}, 1);
  for (auto [x, y] : changed(before, img)) {
    if (ring(5, 2, 59, 49).count({x, y})) continue;
    CHECK((x >= 5 && x < 5 + 7 && y >= 2 && y < 2 + 9));
  }
}

TEST_CASE("boxes are clipped to the image; the first box ends on top", "[detr][draw]") {
  const auto before = grey(32, 32);
  auto img = before;
  // Partly outside: only the visible part of the outline is drawn.
  train::draw_detections(img, {{{-10.0, -5.0, 20.0, 1e9}, 3, ""}});
  std::set<std::pair<int, int>> expected;
  for (auto p : ring(-10, -5, 19, 40))
    if (p.first >= 0 && p.second >= 0 && p.first < 32 && p.second < 32) expected.insert(p);
  CHECK(changed(before, img) == expected);
  // Entirely outside: nothing, label included.
  img = before;
  train::draw_detections(img, {{{40.0, 40.0, 50.0, 50.0}, 0, "far"}, {{-9, 3, -4, 8}, 0, "x"}});
  CHECK(changed(before, img).empty());
  // Overlapping boxes: the first one's colour wins on shared pixels.
  img = before;
  train::draw_detections(img, {{{0, 0, 10, 10}, 0, ""}, {{0, 0, 10, 10}, 1, ""}});
  const auto c0 = train::series_colour(0);
  CHECK(std::equal(c0.begin(), c0.end(), img.at(0, 0)));
}

TEST_CASE("draw_detections rejects bad boxes and scales", "[detr][draw]") {
  auto img = grey(16, 16);
  test::check_throws_with(
      [&] {
        train::draw_detections(img, {{{0, 0, 4, 4}, 0, ""}, {{5, 0, 4, 4}, 0, ""}});
      },
      {"[draw_detections]", "box 1", "x0 <= x1"});
  test::check_throws_with(
      [&] {
        train::draw_detections(img, {{{0, 0, NAN, 4}, 0, ""}});
      },
      {"[draw_detections]", "box 0", "finite"});
  test::check_throws_with([&] { train::draw_detections(img, {}, -1); },
                          {"[draw_detections]", "text_scale"});
  // Nothing was drawn by the failing calls.
  CHECK(changed(grey(16, 16), img).empty());
}

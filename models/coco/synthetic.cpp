// The synthetic COCO set: per image, a cluttered background, a few shapes of
// random kind / size / colour / position, noise, then JPEG + annotations.
#include "mfx/coco/synthetic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <vector>

#include "coco/rng.h"
#include "coco/shapes.h"
#include "io/atomic_file.h"

namespace mfx::coco {

namespace {

using detail::Rng;
using detail::ShapeSpec;
using ojson = nlohmann::ordered_json;

const char* const kKindNames[] = {"rectangle", "ellipse", "triangle", "ring", "cross"};
const int64_t kKindIds[] = {1, 2, 3, 5, 7};

void check_config(const SyntheticConfig& c) {
  auto bad = [](const std::string& what) {
    throw std::invalid_argument("[coco::write_synthetic_coco] " + what);
  };
  if (c.num_train < 0 || c.num_val < 0 || c.num_train + c.num_val == 0) {
    bad(fmt::format("num_train ({}) and num_val ({}) must be >= 0 with a positive sum", c.num_train,
                    c.num_val));
  }
  if (c.min_side < 16 || c.max_side < c.min_side || c.max_side > 8192) {
    bad(fmt::format("need 16 <= min_side <= max_side <= 8192, got min_side {} max_side {}",
                    c.min_side, c.max_side));
  }
  if (c.num_classes < 1 || c.num_classes > detail::kNumShapeKinds) {
    bad(fmt::format("num_classes must be in [1, {}], got {}", int(detail::kNumShapeKinds),
                    c.num_classes));
  }
  if (c.min_objects < 0 || c.max_objects < c.min_objects) {
    bad(fmt::format("need 0 <= min_objects <= max_objects, got min_objects {} max_objects {}",
                    c.min_objects, c.max_objects));
  }
  if (c.p_small < 0 || c.p_medium < 0 || c.p_large < 0 || c.p_small + c.p_medium + c.p_large <= 0) {
    bad(fmt::format("p_small ({}), p_medium ({}), p_large ({}) must be >= 0 with a positive sum",
                    c.p_small, c.p_medium, c.p_large));
  }
  if (!(c.max_box_overlap >= 0 && c.max_box_overlap <= 1)) {
    bad(fmt::format("max_box_overlap must be in [0, 1], got {}", c.max_box_overlap));
  }
  if (c.max_distractor_lines < 0 || c.noise_amplitude < 0 || c.noise_amplitude > 255) {
    bad(fmt::format("max_distractor_lines ({}) must be >= 0 and noise_amplitude ({}) in [0, 255]",
                    c.max_distractor_lines, c.noise_amplitude));
  }
  if (c.jpeg_quality < 1 || c.jpeg_quality > 100) {
    bad(fmt::format("jpeg_quality must be in [1, 100], got {}", c.jpeg_quality));
  }
}

// Square root of the target area for a size class drawn from the config's
// probabilities; COCO's boundaries are 32 and 96.
double target_side(const SyntheticConfig& c, Rng& rng, int w, int h) {
  const double limit = 0.95 * std::min(w, h);
  const double u = rng.uniform() * (c.p_small + c.p_medium + c.p_large);
  if (u < c.p_small) return rng.uniform(6, 28);
  if (u < c.p_small + c.p_medium || limit < 104) return rng.uniform(36, std::min(88.0, limit));
  return rng.uniform(104, limit);
}

ShapeSpec random_shape(const SyntheticConfig& c, Rng& rng, int w, int h) {
  ShapeSpec s;
  s.kind = static_cast<int>(rng.uniform_int(0, c.num_classes - 1));
  s.thickness = s.kind == detail::kRing ? rng.uniform(0.45, 0.7) : rng.uniform(0.25, 0.4);
  const double side = target_side(c, rng, w, h) / std::sqrt(detail::fill_fraction(s));
  const double aspect = std::exp(rng.uniform(std::log(0.5), std::log(2.0)));
  s.rx = std::clamp(side * std::sqrt(aspect), 3.0, w - 1.0) / 2;
  s.ry = std::clamp(side / std::sqrt(aspect), 3.0, h - 1.0) / 2;
  s.cx = rng.uniform(s.rx, w - s.rx);
  s.cy = rng.uniform(s.ry, h - s.ry);
  if (s.kind == detail::kTriangle) {
    // Apex on one side of the box (random position along it), base on the
    // opposite side: up / down / left / right pointing triangles.
    const double a = rng.uniform(-1, 1);
    const int dir = static_cast<int>(rng.uniform_int(0, 3));
    const double sx = dir < 2 ? 1 : 0, sy = dir < 2 ? 0 : 1;  // direction along the base
    const double flip = (dir % 2) ? -1 : 1;
    const double nx = sy * flip, ny = sx * flip;  // from base to apex
    s.tri = {s.cx + a * sx * s.rx + nx * s.rx, s.cy + a * sy * s.ry + ny * s.ry,
             s.cx - sx * s.rx - nx * s.rx,     s.cy - sy * s.ry - ny * s.ry,
             s.cx + sx * s.rx - nx * s.rx,     s.cy + sy * s.ry - ny * s.ry};
  }
  return s;
}

// A colour far enough from the background under the shape's centre.
std::array<uint8_t, 3> random_color(Rng& rng, const RgbImage& img, const ShapeSpec& s) {
  const uint8_t* bg =
      img.at(std::clamp(int(s.cy), 0, img.h - 1), std::clamp(int(s.cx), 0, img.w - 1));
  std::array<uint8_t, 3> col{};
  for (int attempt = 0; attempt < 8; ++attempt) {
    int dist = 0;
    for (int c = 0; c < 3; ++c) {
      col[c] = static_cast<uint8_t>(rng.uniform_int(0, 255));
      dist += std::abs(int(col[c]) - int(bg[c]));
    }
    if (dist >= 150) break;
  }
  return col;
}

// Intersection of the two shapes' boxes over the smaller box.
double box_overlap(const ShapeSpec& a, const ShapeSpec& b) {
  const double w = std::min(a.cx + a.rx, b.cx + b.rx) - std::max(a.cx - a.rx, b.cx - b.rx);
  const double h = std::min(a.cy + a.ry, b.cy + b.ry) - std::max(a.cy - a.ry, b.cy - b.ry);
  if (w <= 0 || h <= 0) return 0;
  return w * h / (4 * std::min(a.rx * a.ry, b.rx * b.ry));
}

// A shape whose box overlaps no placed one by more than the config allows;
// nullopt after 20 draws. With overlap allowed (1) the first draw is taken,
// so sets made before this option keep their bytes.
std::optional<ShapeSpec> place_shape(const SyntheticConfig& c, Rng& rng, int w, int h,
                                     const std::vector<ShapeSpec>& placed) {
  const int draws = c.max_box_overlap >= 1 ? 1 : 20;
  for (int d = 0; d < draws; ++d) {
    ShapeSpec s = random_shape(c, rng, w, h);
    const bool fits = std::all_of(placed.begin(), placed.end(), [&](const ShapeSpec& p) {
      return box_overlap(s, p) <= c.max_box_overlap;
    });
    if (fits || draws == 1) return s;
  }
  return std::nullopt;
}

void count_area(SyntheticSummary& sum, double area) {
  if (area < 32.0 * 32.0) {
    ++sum.small;
  } else if (area <= 96.0 * 96.0) {
    ++sum.medium;
  } else {
    ++sum.large;
  }
}

void write_text(const std::string& path, const std::string& text) {
  io::AtomicFile file(path, "coco::write_synthetic_coco");
  file.write(text.data(), text.size());
  file.commit();
}

}  // namespace

int64_t synthetic_category_id(int kind) {
  if (kind < 0 || kind >= detail::kNumShapeKinds) {
    throw std::invalid_argument(fmt::format("[coco::synthetic_category_id] kind {} not in [0, {})",
                                            kind, int(detail::kNumShapeKinds)));
  }
  return kKindIds[kind];
}

SyntheticSummary write_synthetic_coco(const std::string& dir, const SyntheticConfig& config) {
  check_config(config);
  namespace fs = std::filesystem;
  const fs::path root(dir);
  std::error_code ec;
  fs::create_directories(root / "images", ec);
  if (!ec) fs::create_directories(root / "annotations", ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("[coco::write_synthetic_coco] cannot create {}: {}", dir, ec.message()));
  }

  ojson categories = ojson::array();
  for (int k = 0; k < config.num_classes; ++k) {
    categories.push_back(
        {{"id", kKindIds[k]}, {"name", kKindNames[k]}, {"supercategory", "shape"}});
  }
  ojson splits[2];
  for (auto& s : splits) {
    s = {{"info", {{"description", "mfx synthetic shapes"}, {"seed", config.seed}}},
         {"images", ojson::array()},
         {"annotations", ojson::array()},
         {"categories", categories}};
  }

  SyntheticSummary sum;
  int64_t next_ann_id = 1;
  const int total = config.num_train + config.num_val;
  for (int i = 0; i < total; ++i) {
    const int64_t image_id = i + 1;
    Rng rng(detail::combine_seed(config.seed, static_cast<uint64_t>(i), 0x5EED));
    const int w = static_cast<int>(rng.uniform_int(config.min_side, config.max_side));
    const int h = static_cast<int>(rng.uniform_int(config.min_side, config.max_side));
    RgbImage img(h, w);
    detail::draw_gradient(img, rng);
    const int lines = static_cast<int>(rng.uniform_int(0, config.max_distractor_lines));
    for (int l = 0; l < lines; ++l) detail::draw_distractor_line(img, rng);

    ojson& split = splits[i < config.num_train ? 0 : 1];
    const int n = static_cast<int>(rng.uniform_int(config.min_objects, config.max_objects));
    std::vector<ShapeSpec> placed;
    for (int o = 0; o < n; ++o) {
      const auto spec = place_shape(config, rng, w, h, placed);
      if (!spec) continue;
      const ShapeSpec& s = placed.emplace_back(*spec);
      const auto d = detail::draw_shape(img, s, random_color(rng, img, s));
      if (d.area == 0) continue;
      split["annotations"].push_back({{"id", next_ann_id++},
                                      {"image_id", image_id},
                                      {"category_id", kKindIds[s.kind]},
                                      {"bbox", {d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0}},
                                      {"area", d.area},
                                      {"iscrowd", 0}});
      ++sum.annotations;
      count_area(sum, static_cast<double>(d.area));
    }
    detail::add_noise(img, rng, config.noise_amplitude);

    const std::string name = fmt::format("{:012d}.jpg", image_id);
    write_jpeg((root / "images" / name).string(), img, config.jpeg_quality);
    split["images"].push_back({{"id", image_id}, {"file_name", name}, {"width", w}, {"height", h}});
    ++(i < config.num_train ? sum.train_images : sum.val_images);
  }
  write_text((root / "annotations" / "instances_train.json").string(), splits[0].dump(1) + "\n");
  write_text((root / "annotations" / "instances_val.json").string(), splits[1].dump(1) + "\n");
  return sum;
}

}  // namespace mfx::coco

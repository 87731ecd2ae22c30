// A deterministic synthetic detection set in COCO format: coloured shapes
// (rectangles, ellipses, triangles, rings, crosses) of small, medium and large
// sizes, possibly overlapping, on cluttered backgrounds (gradients, noise,
// distractor lines). It writes a real COCO folder, so training, evaluation
// and tests run without downloading anything:
//
//   dir/images/000000000001.jpg ...
//   dir/annotations/instances_train.json, dir/annotations/instances_val.json
//
// Each shape kind is one category with COCO-like sparse ids:
// rectangle 1, ellipse 2, triangle 3, ring 5, cross 7.
//
// bbox is the tight box (x, y, w, h) of the shape's drawn pixels in pixel-edge
// coordinates (a single pixel at column 4 spans x = 4..5), and area is the
// number of pixels the shape covers when drawn (like COCO's segment area,
// before later shapes may paint over it). iscrowd is always 0.
//
// Deterministic: for one config the files are byte-identical on every run
// (own RNG, pixel-centre inside tests, libjpeg's integer DCT).
#pragma once

#include <cstdint>
#include <string>

namespace mfx::coco {

struct SyntheticConfig {
  uint64_t seed = 0;
  int num_train = 32;  ///< images listed in instances_train.json (ids 1..num_train)
  int num_val = 8;     ///< images listed in instances_val.json (the ids after)
  int min_side = 128;  ///< width and height are drawn uniformly in [min_side, max_side]
  int max_side = 256;
  int num_classes = 5;  ///< the first n kinds of {rectangle, ellipse, triangle, ring, cross}
  int min_objects = 1;  ///< objects per image, uniform in [min_objects, max_objects]
  int max_objects = 6;
  /// Probabilities of a small (area < 32^2), medium and large (> 96^2) target
  /// size; large falls back to medium when the image is too small for it.
  double p_small = 0.35, p_medium = 0.4, p_large = 0.25;
  /// Largest fraction of a shape's box that the box of another shape of the
  /// same image may cover (intersection over the smaller box). A shape that
  /// finds no such place in 20 draws is left out, so images can have fewer
  /// objects. 1 (the default) allows any overlap, including shapes hidden
  /// almost entirely by later ones.
  double max_box_overlap = 1.0;
  int max_distractor_lines = 6;  ///< thin lines of random colour, not annotated
  int noise_amplitude = 12;      ///< per-pixel uniform noise in [-a, a]
  int jpeg_quality = 92;
};

/// What write_synthetic_coco produced (for logs and tests).
struct SyntheticSummary {
  int train_images = 0, val_images = 0;
  int annotations = 0;
  int small = 0, medium = 0, large = 0;  ///< by COCO's area ranges on the area field
};

/// Writes the set into `dir` (created when missing; existing files with the
/// same names are replaced atomically). Throws std::invalid_argument naming
/// the field for an invalid config, std::runtime_error naming the path on I/O
/// errors.
SyntheticSummary write_synthetic_coco(const std::string& dir, const SyntheticConfig& config);

/// Category id of shape kind k (0..4): 1, 2, 3, 5, 7.
int64_t synthetic_category_id(int kind);

}  // namespace mfx::coco

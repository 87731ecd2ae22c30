// pycocotools' default bbox evaluation parameters.
#include <cstdint>

#include "mfx/coco/eval.h"

namespace mfx::coco {

namespace {

// np.linspace(start, stop, num): i * step + start with step = (stop - start)
// / (num - 1), and the last value set to stop. Computing i * 0.05 + 0.5 any
// other way would change thresholds such as 0.8999999999999999 by one ulp.
std::vector<double> linspace(double start, double stop, int64_t num) {
  std::vector<double> y(static_cast<size_t>(num));
  double step = (stop - start) / static_cast<double>(num - 1);
  for (int64_t i = 0; i < num; ++i) {
    double scaled = static_cast<double>(i) * step;
    y[static_cast<size_t>(i)] = scaled + start;
  }
  if (num > 1) y.back() = stop;
  return y;
}

}  // namespace

EvalParams EvalParams::coco() {
  EvalParams p;
  p.iou_thrs = linspace(0.5, 0.95, 10);
  p.rec_thrs = linspace(0.0, 1.0, 101);
  p.max_dets = {1, 10, 100};
  p.area_ranges = {{"all", 0.0, 1e10},
                   {"small", 0.0, 32.0 * 32.0},
                   {"medium", 32.0 * 32.0, 96.0 * 96.0},
                   {"large", 96.0 * 96.0, 1e10}};
  return p;
}

}  // namespace mfx::coco

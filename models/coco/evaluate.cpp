// One-call COCO evaluation: per-image matching, accumulation, summary.
#include "mfx/coco/eval.h"

namespace mfx::coco {

EvalResult evaluate(const Dataset& gt, const std::vector<Detection>& detections,
                    const EvalParams& params) {
  EvalResult result;
  result.accumulated = accumulate(evaluate_images(gt, detections, params));
  result.stats = summarize(result.accumulated);
  return result;
}

}  // namespace mfx::coco

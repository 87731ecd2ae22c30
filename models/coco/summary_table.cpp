// The COCO numbers as a Markdown table (train_coco, eval_coco and docs/results.md
// tables print the same layout).
#include <fmt/format.h>

#include <stdexcept>

#include "mfx/coco/eval.h"

namespace mfx::coco {

const std::array<const char*, 12>& summary_names() {
  static const std::array<const char*, 12> names = {"AP",  "AP50", "AP75",  "APs", "APm", "APl",
                                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"};
  return names;
}

std::string format_summary_table(const std::array<double, 12>& stats, size_t columns) {
  if (columns < 1 || columns > 12) {
    throw std::invalid_argument(
        fmt::format("[coco::format_summary_table] columns must be in [1, 12], got {}", columns));
  }
  std::string header = "|", rule = "|", values = "|";
  for (size_t i = 0; i < columns; ++i) {
    header += fmt::format(" {} |", summary_names()[i]);
    rule += "---|";
    // Percent, as papers print COCO numbers; -1 (no ground truth in the range) as "-".
    values += stats[i] < 0 ? std::string(" - |") : fmt::format(" {:.1f} |", 100 * stats[i]);
  }
  return header + "\n" + rule + "\n" + values + "\n";
}

}  // namespace mfx::coco

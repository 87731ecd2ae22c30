// Locating a split inside a COCO-format folder (synthetic or COCO 2017 layout).
#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "mfx/coco/data.h"

namespace mfx::coco {

SplitPaths find_split(const std::string& dir, const std::string& split) {
  namespace fs = std::filesystem;
  const fs::path d(dir);
  std::error_code ec;
  if (!fs::is_directory(d, ec)) {
    throw std::runtime_error(
        fmt::format("[coco::find_split] data folder {} does not exist (or is not a folder)", dir));
  }
  const fs::path synthetic = d / "annotations" / fmt::format("instances_{}.json", split);
  if (fs::exists(synthetic, ec)) return {(d / "images").string(), synthetic.string()};
  const fs::path coco = d / "annotations" / fmt::format("instances_{}2017.json", split);
  if (fs::exists(coco, ec)) return {(d / fmt::format("{}2017", split)).string(), coco.string()};
  throw std::runtime_error(fmt::format(
      "[coco::find_split] {} has neither annotations/instances_{}.json (synthetic layout) nor "
      "annotations/instances_{}2017.json (COCO layout)",
      dir, split, split));
}

}  // namespace mfx::coco

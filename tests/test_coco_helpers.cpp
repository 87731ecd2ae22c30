// Small COCO helpers used by the examples: locating a split in a COCO-format
// folder and the Markdown table of the 12 summary numbers.
#include <fstream>

#include "mfx/coco/data.h"
#include "mfx/coco/eval.h"
#include "test_utils.h"

using namespace mfx;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "{}";
}

}  // namespace

TEST_CASE("find_split knows the synthetic and the COCO 2017 layouts", "[coco][split]") {
  test::TempDir dir;
  const fs::path syn = dir.path / "syn", coco17 = dir.path / "coco";
  touch(syn / "annotations" / "instances_val.json");
  touch(coco17 / "annotations" / "instances_val2017.json");
  auto s = coco::find_split(syn.string(), "val");
  CHECK(s.images == (syn / "images").string());
  CHECK(s.annotations == (syn / "annotations" / "instances_val.json").string());
  auto c = coco::find_split(coco17.string(), "val");
  CHECK(c.images == (coco17 / "val2017").string());
  CHECK(c.annotations == (coco17 / "annotations" / "instances_val2017.json").string());

  CHECK_THROWS_WITH(coco::find_split(syn.string(), "train"),
                    Contains(syn.string()) && Contains("instances_train.json") &&
                        Contains("instances_train2017.json"));
  const std::string missing = (dir.path / "nope").string();
  CHECK_THROWS_WITH(coco::find_split(missing, "val"),
                    Contains(missing) && Contains("does not exist"));
  // A file is not a data folder.
  touch(dir.path / "file.json");
  CHECK_THROWS_WITH(coco::find_split((dir.path / "file.json").string(), "val"),
                    Contains("not a folder"));
}

TEST_CASE("format_summary_table prints names and values in percent", "[coco][summary]") {
  std::array<double, 12> stats{};
  for (size_t i = 0; i < 12; ++i) stats[i] = 0.1 * static_cast<double>(i) + 0.0004;
  stats[5] = -1;
  CHECK(coco::format_summary_table(stats, 3) ==
        "| AP | AP50 | AP75 |\n|---|---|---|\n| 0.0 | 10.0 | 20.0 |\n");
  const std::string all = coco::format_summary_table(stats);
  CHECK(all.find("| AR100 | ARs | ARm | ARl |\n") != std::string::npos);
  CHECK(all.find("| 40.0 | - | 60.0 |") != std::string::npos);
  CHECK(all.find("| 110.0 |\n") != std::string::npos);
  CHECK(coco::summary_names()[8] == std::string("AR100"));
  test::check_throws_with([&] { coco::format_summary_table(stats, 0); },
                          {"[coco::format_summary_table]", "columns", "0"});
  test::check_throws_with([&] { coco::format_summary_table(stats, 13); }, {"13"});
}

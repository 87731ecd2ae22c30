// COCO box evaluation against pycocotools: fixtures written by
// tests/fixtures/gen_coco_eval_fixtures.py (pycocotools' COCOeval stats and
// recall tables), IoU and matching unit tests, JSON reading / writing, and an
// optional live comparison with pycocotools ([pycocotools]).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>

#include "mfx/coco/dataset.h"
#include "mfx/coco/eval.h"
#include "test_utils.h"

namespace fs = std::filesystem;
using namespace mfx::coco;
using mfx::test::TempDir;

namespace {

const std::string kDataDir = mfx::test::data_path("coco_eval");

// expected.txt: "NAME KEY v0 v1 ..." -> values[NAME][KEY].
std::map<std::string, std::map<std::string, std::vector<double>>> load_expected() {
  std::ifstream in(kDataDir + "/expected.txt");
  REQUIRE(in.good());
  std::map<std::string, std::map<std::string, std::vector<double>>> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string name, key;
    if (!(ss >> name >> key)) continue;
    std::vector<double> v;
    for (double x; ss >> x;) v.push_back(x);
    out[name][key] = v;
  }
  return out;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// Instances JSON for `ds` (the test writes its own: the library only reads it).
std::string instances_json(const Dataset& ds) {
  std::ostringstream s;
  s.precision(17);
  s << "{\"images\":[";
  for (size_t i = 0; i < ds.images.size(); ++i) {
    s << (i ? "," : "") << "{\"id\":" << ds.images[i].id << "}";
  }
  s << "],\"categories\":[";
  for (size_t i = 0; i < ds.categories.size(); ++i) {
    s << (i ? "," : "") << "{\"id\":" << ds.categories[i].id << ",\"name\":\"c\"}";
  }
  s << "],\"annotations\":[";
  for (size_t i = 0; i < ds.annotations.size(); ++i) {
    const Annotation& a = ds.annotations[i];
    s << (i ? "," : "") << "{\"id\":" << a.id << ",\"image_id\":" << a.image_id
      << ",\"category_id\":" << a.category_id << ",\"bbox\":[" << a.bbox[0] << "," << a.bbox[1]
      << "," << a.bbox[2] << "," << a.bbox[3] << "],\"area\":" << a.area
      << ",\"iscrowd\":" << (a.iscrowd ? 1 : 0) << "}";
  }
  s << "]}";
  return s.str();
}

// One ground truth / detection set in which every feature of the matching
// appears: two images, two categories, crowd regions, area ranges.
Dataset small_gt() {
  Dataset ds;
  ds.images = {{1, "a.jpg", 100, 100}, {2, "b.jpg", 100, 100}};
  ds.categories = {{1, "cat", ""}, {2, "dog", ""}};
  ds.annotations = {
      {1, 1, 1, {0, 0, 10, 10}, 100, false},
      {2, 1, 1, {50, 50, 40, 40}, 1600, false},
      {3, 1, 1, {0, 60, 30, 30}, 900, true},
      {4, 2, 2, {10, 10, 20, 20}, 400, false},
  };
  return ds;
}

}  // namespace

TEST_CASE("coco eval: default parameters equal pycocotools'", "[coco]") {
  EvalParams p = EvalParams::coco();
  // np.linspace(.5, 0.95, 10).tolist()
  std::vector<double> iou = {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95};
  REQUIRE(p.iou_thrs.size() == iou.size());
  for (size_t i = 0; i < iou.size(); ++i) CHECK(p.iou_thrs[i] == iou[i]);
  REQUIRE(p.rec_thrs.size() == 101);
  // np.linspace(0, 1, 101)[[7, 29, 57, 100]].tolist()
  CHECK(p.rec_thrs[7] == 0.07);
  CHECK(p.rec_thrs[29] == 0.29);
  CHECK(p.rec_thrs[57] == 0.5700000000000001);
  CHECK(p.rec_thrs[100] == 1.0);
  CHECK(p.max_dets == std::vector<int64_t>{1, 10, 100});
  REQUIRE(p.area_ranges.size() == 4);
  CHECK(p.area_ranges[1].label == "small");
  CHECK(p.area_ranges[1].hi == 1024.0);
  CHECK(p.area_ranges[3].lo == 9216.0);
  CHECK(p.area_ranges[3].hi == 1e10);
}

TEST_CASE("coco eval: box IoU with crowd regions", "[coco]") {
  // Overlap 5x5 = 25, union 100 + 100 - 25 = 175.
  CHECK(box_iou({0, 0, 10, 10}, {5, 5, 10, 10}, false) == 25.0 / 175.0);
  CHECK(box_iou({0, 0, 10, 10}, {0, 0, 10, 10}, false) == 1.0);
  // Inside a crowd region: union is the detection's own area.
  CHECK(box_iou({0, 0, 10, 10}, {0, 0, 100, 100}, true) == 1.0);
  CHECK(box_iou({0, 0, 10, 10}, {0, 0, 100, 100}, false) == 0.01);
  // Half in the region: 10x20 of 20x20.
  CHECK(box_iou({90, 0, 20, 20}, {0, 0, 100, 100}, true) == 0.5);
  // Touching or disjoint boxes and zero-width boxes give 0.
  CHECK(box_iou({0, 0, 10, 10}, {10, 0, 10, 10}, false) == 0.0);
  CHECK(box_iou({0, 0, 10, 10}, {30, 30, 5, 5}, true) == 0.0);
  CHECK(box_iou({2, 2, 0, 5}, {0, 0, 10, 10}, false) == 0.0);

  auto m = box_iou_matrix({{0, 0, 10, 10}, {5, 5, 10, 10}}, {{0, 0, 10, 10}, {0, 0, 20, 20}},
                          {false, true});
  REQUIRE(m.size() == 4);
  CHECK(m[0] == 1.0);
  CHECK(m[1] == 1.0);  // crowd: det fully inside
  CHECK(m[2] == 25.0 / 175.0);
  CHECK(m[3] == 1.0);
  mfx::test::check_throws_with(
      [] {
        box_iou_matrix({{0, 0, 1, 1}}, {{0, 0, 1, 1}}, {});
      },
      {"[coco::box_iou_matrix]", "0 crowd flags", "1 ground-truth"});
}

TEST_CASE("coco eval: per-image matching", "[coco]") {
  Dataset gt = small_gt();
  std::vector<Detection> dets = {
      {1, 1, {0, 0, 10, 10}, 0.9},   // id 1: exact match of gt 1
      {1, 1, {1, 0, 10, 10}, 0.95},  // id 2: IoU 90/110 with gt 1, higher score wins it
      {1, 1, {5, 65, 10, 10}, 0.8},  // id 3: inside the crowd region
      {1, 1, {8, 70, 10, 10}, 0.8},  // id 4: crowd again (crowds match repeatedly)
      {2, 2, {60, 60, 5, 5}, 0.3},   // id 5: false positive, small
  };
  ImageEvals ev = evaluate_images(gt, dets);
  CHECK(ev.image_ids == std::vector<int64_t>{1, 2});
  CHECK(ev.category_ids == std::vector<int64_t>{1, 2});
  REQUIRE(ev.evals.size() == 2 * 4 * 2);
  // (k=0, a=all, i=0): image 1, category 1.
  const auto& e = ev.evals[0];
  REQUIRE(e.has_value());
  CHECK(e->dt_ids == std::vector<int64_t>{2, 1, 3, 4});  // score order, ties stable
  CHECK(e->gt_ids == std::vector<int64_t>{1, 2, 3});     // crowd (ignored) last
  CHECK(e->gt_ignore == std::vector<uint8_t>{0, 0, 1});
  const size_t D = 4;
  // t = 0 (IoU 0.5): det 2 takes gt 1 (IoU 0.818), det 1 finds gt 1 taken.
  CHECK(e->dt_matches[0 * D + 0] == 1);
  CHECK(e->dt_matches[0 * D + 1] == 0);
  CHECK(e->dt_matches[0 * D + 2] == 3);
  CHECK(e->dt_matches[0 * D + 3] == 3);
  CHECK(e->dt_ignore[0 * D + 2] == 1);
  CHECK(e->dt_ignore[0 * D + 3] == 1);
  CHECK(e->gt_matches[0 * 3 + 0] == 2);
  // t = 9 (IoU 0.95): 0.818 is not enough, the exact det 1 now matches.
  CHECK(e->dt_matches[9 * D + 0] == 0);
  CHECK(e->dt_matches[9 * D + 1] == 1);
  // (k=0, a=small): gt 2 (area 1600) is ignored, gt 1 is not.
  const auto& small = ev.evals[(0 * 4 + 1) * 2 + 0];
  REQUIRE(small.has_value());
  CHECK(small->gt_ids == std::vector<int64_t>{1, 2, 3});
  CHECK(small->gt_ignore == std::vector<uint8_t>{0, 1, 1});
  // Image 2 has no category-1 objects or detections: no entry.
  CHECK_FALSE(ev.evals[1].has_value());
  // (k=1, a=large, image 2): the small unmatched false positive is ignored.
  const auto& large = ev.evals[(1 * 4 + 3) * 2 + 1];
  REQUIRE(large.has_value());
  CHECK(large->dt_ignore[0] == 1);
  CHECK(large->gt_ignore == std::vector<uint8_t>{1});

  EvalResult r = evaluate(gt, dets);
  // AP50, category 1: 2 non-ignored gts, tp at rank 1, recall 0.5 -> 51 of
  // 101 recall points at precision 1 (the crowd matches are ignored, det 1 is
  // a false positive after them). Category 2: no tp, precision 0.
  // Precision tp / (tp + fp + eps) stays just below 1 (eps = np.spacing(1)).
  CHECK(r.accumulated.precision_at(0, 50, 0, 0, 2) == 1.0 / (1.0 + 0x1p-52));
  CHECK(r.accumulated.precision_at(0, 51, 0, 0, 2) == 0.0);
  CHECK(r.accumulated.recall_at(0, 0, 0, 2) == 0.5);
  CHECK(r.accumulated.recall_at(0, 1, 0, 2) == 0.0);
  CHECK(r.stats[1] == Approx((51.0 / 101.0 + 0.0) / 2).epsilon(1e-15));
}

TEST_CASE("coco eval: equals pycocotools on the fixture cases", "[coco]") {
  auto expected = load_expected();
  const std::vector<std::string> cases = {"random",      "perfect",         "empty_results",
                                          "crowd",       "many_detections", "absent_categories",
                                          "area_ranges", "ties_and_quirks", "no_ground_truth"};
  REQUIRE(expected.size() == cases.size());
  double worst = 0;
  for (const auto& name : cases) {
    INFO("case " << name);
    REQUIRE(expected.count(name));
    auto& exp = expected[name];
    Dataset gt = load_instances(kDataDir + "/" + name + "_gt.json");
    auto dets = load_results(kDataDir + "/" + name + "_results.json");
    EvalResult r = evaluate(gt, dets);
    REQUIRE(exp["stats"].size() == 12);
    for (size_t i = 0; i < 12; ++i) {
      INFO("stat " << i << ": got " << r.stats[i] << " pycocotools " << exp["stats"][i]);
      CHECK(std::abs(r.stats[i] - exp["stats"][i]) <= 1e-12);
      worst = std::max(worst, std::abs(r.stats[i] - exp["stats"][i]));
    }
    REQUIRE(r.accumulated.recall.size() == exp["recall"].size());
    for (size_t i = 0; i < exp["recall"].size(); ++i) {
      INFO("recall entry " << i);
      CHECK(r.accumulated.recall[i] == exp["recall"][i]);
    }
    double psum = 0;
    for (double v : r.accumulated.precision) psum += v;
    CHECK(std::abs(psum - exp["precision_sum"][0]) <= 1e-9 * std::max(1.0, std::abs(psum)));
  }
  INFO("largest difference to pycocotools: " << worst);
  CHECK(worst <= 1e-12);
}

TEST_CASE("coco eval: fixture cases cover what they claim", "[coco]") {
  // Guards against a regenerated fixture losing its point.
  auto many = load_results(kDataDir + "/many_detections_results.json");
  std::map<std::pair<int64_t, int64_t>, int> per_cell;
  for (auto& d : many) per_cell[{d.image_id, d.category_id}]++;
  int max_cell = 0;
  for (auto& [k, n] : per_cell) max_cell = std::max(max_cell, n);
  CHECK(max_cell > 100);
  Dataset crowd = load_instances(kDataDir + "/crowd_gt.json");
  int n_crowd = 0;
  for (auto& a : crowd.annotations) n_crowd += a.iscrowd;
  CHECK(n_crowd > 0);
  CHECK(load_results(kDataDir + "/empty_results_results.json").empty());
}

TEST_CASE("coco eval: summaries of empty and perfect sets", "[coco]") {
  Dataset gt = small_gt();
  // No detections: every AP and AR is 0, except for "large", where no
  // category has a non-ignored ground truth (-1).
  EvalResult none = evaluate(gt, {});
  for (size_t i = 0; i < 12; ++i) {
    INFO("stat " << i);
    CHECK(none.stats[i] == (i == 5 || i == 11 ? -1.0 : 0.0));
  }
  // No ground truth at all: every number is -1.
  Dataset empty = gt;
  empty.annotations.clear();
  EvalResult absent = evaluate(empty, {{1, 1, {0, 0, 5, 5}, 0.5}});
  for (double s : absent.stats) CHECK(s == -1.0);
  std::string text = format_summary(none.stats, EvalParams::coco());
  CHECK(text.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "
                  "0.000\n") == 0);
  CHECK(text.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = "
                  "0.000\n") != std::string::npos);
  CHECK(text.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = "
                  "-1.000\n") != std::string::npos);
  CHECK(format_summary(absent.stats, EvalParams::coco()).find("= -1.000") != std::string::npos);
}

TEST_CASE("coco eval: invalid evaluation inputs", "[coco]") {
  Dataset gt = small_gt();
  mfx::test::check_throws_with(
      [&] {
        evaluate(gt, {{7, 1, {0, 0, 1, 1}, 0.5}});
      },
      {"[coco::evaluate_images]", "detection 0", "image_id 7"});
  EvalParams p = EvalParams::coco();
  p.max_dets = {};
  mfx::test::check_throws_with([&] { evaluate_images(gt, {}, p); },
                               {"[coco::evaluate_images]", "max_dets"});
  p.max_dets = {0, 10};
  mfx::test::check_throws_with([&] { evaluate_images(gt, {}, p); },
                               {"[coco::evaluate_images]", "positive"});
  p.max_dets = {10, 100};
  auto acc = accumulate(evaluate_images(gt, {}, p));
  mfx::test::check_throws_with([&] { summarize(acc); }, {"[coco::summarize]", "3 max_dets"});
  // Unsorted max_dets are sorted, as pycocotools does.
  p.max_dets = {100, 1, 10};
  CHECK(evaluate_images(gt, {}, p).params.max_dets == std::vector<int64_t>{1, 10, 100});
}

TEST_CASE("coco eval: results JSON round trip and atomic write", "[coco]") {
  TempDir dir;
  std::vector<Detection> dets = {{1, 3, {0.1, 1.0 / 3.0, 12.5, 1e-7}, 0.987654321012345},
                                 {42, 90, {-1, 2, 3, 4}, 0}};
  auto path = (dir.path / "res.json").string();
  save_results(path, dets);
  auto back = load_results(path);
  REQUIRE(back.size() == 2);
  for (size_t i = 0; i < 2; ++i) {
    CHECK(back[i].image_id == dets[i].image_id);
    CHECK(back[i].category_id == dets[i].category_id);
    CHECK(back[i].bbox == dets[i].bbox);  // exact: shortest round-trip text
    CHECK(back[i].score == dets[i].score);
  }
  std::string text = results_to_json({{5, 6, {1, 2, 3, 4}, 0.5}});
  CHECK(text == "[{\"image_id\":5,\"category_id\":6,\"bbox\":[1.0,2.0,3.0,4.0],\"score\":0.5}]");
  // Only the target remains: the temporary file was renamed over it.
  size_t files = 0;
  for (auto& e : fs::directory_iterator(dir.path)) files += e.is_regular_file();
  CHECK(files == 1);
  save_results(path, {});
  CHECK(load_results(path).empty());
  mfx::test::check_throws_with(
      [] {
        results_to_json({{1, 1, {0, 0, 1, 1}, std::nan("")}});
      },
      {"[coco::results_to_json]", "detection 0", "non-finite"});
  mfx::test::check_runtime_error_with(
      [&] { save_results((dir.path / "no" / "such" / "r.json").string(), dets); },
      {"coco::save_results", "r.json"});
}

TEST_CASE("coco eval: malformed JSON names file, entry and field", "[coco]") {
  TempDir dir;
  auto file = [&](const std::string& name, const std::string& text) {
    auto p = (dir.path / name).string();
    write_file(p, text);
    return p;
  };
  mfx::test::check_runtime_error_with([&] { load_instances((dir.path / "missing.json").string()); },
                                      {"[coco::load_instances]", "missing.json"});
  mfx::test::check_runtime_error_with(
      [&] { load_instances(file("syntax.json", "{\"images\": [")); },
      {"[coco::load_instances]", "syntax.json", "malformed JSON"});
  mfx::test::check_runtime_error_with(
      [&] { load_instances(file("noimg.json", "{\"annotations\": []}")); },
      {"noimg.json", "missing field 'images'"});
  std::string base = "{\"images\":[{\"id\":1}],\"categories\":[{\"id\":1}],\"annotations\":[";
  mfx::test::check_runtime_error_with(
      [&] {
        load_instances(file("bbox.json", base + "{\"id\":1,\"image_id\":1,\"category_id\":1,"
                                                "\"bbox\":[1,2,3],\"area\":4}]}"));
      },
      {"bbox.json", "annotations[0]", "'bbox'", "4 numbers"});
  mfx::test::check_runtime_error_with(
      [&] {
        load_instances(file("area.json", base + "{\"id\":1,\"image_id\":1,\"category_id\":1,"
                                                "\"bbox\":[1,2,3,4]}]}"));
      },
      {"area.json", "annotations[0]", "missing field 'area'"});
  mfx::test::check_runtime_error_with(
      [&] {
        load_instances(file("id.json", base + "{\"id\":\"x\",\"image_id\":1,\"category_id\":1,"
                                              "\"bbox\":[1,2,3,4],\"area\":1}]}"));
      },
      {"id.json", "annotations[0]", "'id' must be an integer"});
  mfx::test::check_runtime_error_with(
      [&] {
        load_instances(file("unknown.json", base + "{\"id\":1,\"image_id\":5,\"category_id\":1,"
                                                   "\"bbox\":[1,2,3,4],\"area\":1}]}"));
      },
      {"unknown.json", "annotations[0]", "image_id 5"});
  mfx::test::check_runtime_error_with(
      [&] {
        load_instances(file("dup.json",
                            "{\"images\":[{\"id\":1},{\"id\":1}],"
                            "\"categories\":[],\"annotations\":[]}"));
      },
      {"dup.json", "images[1]", "duplicate id 1"});
  mfx::test::check_runtime_error_with([&] { load_results(file("obj.json", "{}")); },
                                      {"[coco::load_results]", "obj.json", "array"});
  mfx::test::check_runtime_error_with(
      [&] {
        load_results(file("score.json",
                          "[{\"image_id\":1,\"category_id\":1,"
                          "\"bbox\":[1,2,3,4]}]"));
      },
      {"score.json", "results[0]", "missing field 'score'"});

  // A valid file: iscrowd defaults to 0, extra fields are ignored.
  Dataset ds = parse_instances(base +
                               "{\"id\":9,\"image_id\":1,\"category_id\":1,\"bbox\":[1,2,3,4],"
                               "\"area\":10.5,\"segmentation\":[[1,2,3]]}]}");
  REQUIRE(ds.annotations.size() == 1);
  CHECK(ds.annotations[0].id == 9);
  CHECK(ds.annotations[0].area == 10.5);
  CHECK_FALSE(ds.annotations[0].iscrowd);
  CHECK(ds.annotations[0].bbox == BoxXYWH{1, 2, 3, 4});
}

TEST_CASE("coco eval: numbers out of range and directories name the file and field", "[coco]") {
  TempDir dir;
  auto file = [&](const std::string& name, const std::string& text) {
    auto p = (dir.path / name).string();
    write_file(p, text);
    return p;
  };
  mfx::test::check_runtime_error_with(
      [&] {
        load_instances(file("huge.json",
                            "{\"images\":[{\"id\":1,\"width\":1e999}],"
                            "\"categories\":[],\"annotations\":[]}"));
      },
      {"[coco::load_instances]", "huge.json"});
  mfx::test::check_runtime_error_with(
      [&] {
        load_results(file("score.json",
                          "[{\"image_id\":1,\"category_id\":1,"
                          "\"bbox\":[1,2,3,4],\"score\":-1e999}]"));
      },
      {"[coco::load_results]", "score.json"});
  // 2^64 - 1 parses as an unsigned integer; it must not wrap to -1.
  mfx::test::check_runtime_error_with(
      [&] {
        load_instances(file("wrap.json",
                            "{\"images\":[{\"id\":18446744073709551615}],"
                            "\"categories\":[],\"annotations\":[]}"));
      },
      {"wrap.json", "images[0]", "'id'", "int64"});
  mfx::test::check_runtime_error_with(
      [&] {
        load_results(file("wrapr.json",
                          "[{\"image_id\":9223372036854775808,"
                          "\"category_id\":1,\"bbox\":[1,2,3,4],"
                          "\"score\":1}]"));
      },
      {"wrapr.json", "results[0]", "'image_id'", "int64"});
  CHECK(parse_results("[{\"image_id\":9223372036854775807,\"category_id\":1,"
                      "\"bbox\":[1,2,3,4],\"score\":1}]",
                      "ok")[0]
            .image_id == std::numeric_limits<int64_t>::max());
  std::filesystem::create_directories(dir.path / "adir.json");
  mfx::test::check_runtime_error_with([&] { load_instances((dir.path / "adir.json").string()); },
                                      {"[coco::load_instances]", "adir.json", "directory"});
}

TEST_CASE("coco eval: live comparison with pycocotools", "[coco][pycocotools]") {
  // CI sets MFX_REQUIRE_PYCOCOTOOLS=1 so that a missing install fails
  // instead of silently skipping.
  // MFX_PYTHON names the interpreter with pycocotools (scripts/test.sh sets it).
  const char* py_env = std::getenv("MFX_PYTHON");
  const std::string python = py_env && *py_env ? py_env : "python3";
  if (std::system(("'" + python + "' -c 'import pycocotools' > /dev/null 2>&1").c_str()) != 0) {
    const char* require = std::getenv("MFX_REQUIRE_PYCOCOTOOLS");
    if (require && std::string(require) == "1") {
      FAIL("MFX_REQUIRE_PYCOCOTOOLS=1 but pycocotools is not importable by " + python);
    }
    WARN("pycocotools is not importable: skipped (pip install -r tests/fixtures/requirements.txt)");
    return;
  }
  // A random set built here, so the comparison does not depend on fixtures.
  std::mt19937 gen(7);
  std::uniform_real_distribution<double> u(0, 1);
  auto r2 = [](double x) { return std::round(x * 100) / 100; };
  Dataset gt;
  for (int64_t i = 1; i <= 6; ++i) gt.images.push_back({i, "", 640, 480});
  for (int64_t c : {1, 2, 4}) gt.categories.push_back({c, "", ""});
  std::vector<Detection> dets;
  int64_t aid = 1;
  for (auto& im : gt.images) {
    for (int n = 0; n < 12; ++n) {
      double w = r2(4 + 200 * u(gen) * u(gen)), h = r2(4 + 200 * u(gen) * u(gen));
      BoxXYWH b{r2(400 * u(gen)), r2(300 * u(gen)), w, h};
      int64_t cat = gt.categories[static_cast<size_t>(3 * u(gen)) % 3].id;
      bool crowd = u(gen) < 0.1;
      gt.annotations.push_back({aid++, im.id, cat, b, r2(w * h * (0.6 + 0.4 * u(gen))), crowd});
      for (int k = 0; k < 3; ++k) {
        BoxXYWH d{r2(b[0] + 0.2 * w * (u(gen) - 0.5)), r2(b[1] + 0.2 * h * (u(gen) - 0.5)),
                  r2(w * (0.8 + 0.4 * u(gen))), r2(h * (0.8 + 0.4 * u(gen)))};
        dets.push_back({im.id, u(gen) < 0.9 ? cat : 2, d, std::round(u(gen) * 100) / 100});
      }
    }
  }
  TempDir dir;
  auto gt_path = dir.path / "gt.json";
  auto res_path = dir.path / "res.json";
  write_file(gt_path, instances_json(gt));
  save_results(res_path.string(), dets);
  std::string script = mfx::test::data_path("../fixtures/gen_coco_eval_fixtures.py");
  std::string cmd = "'" + python + "' '" + script + "' --eval '" + gt_path.string() + "' '" +
                    res_path.string() + "'";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  REQUIRE(pclose(pipe) == 0);
  // "[s0, s1, ...]"
  for (char& ch : out) {
    if (ch == '[' || ch == ']' || ch == ',') ch = ' ';
  }
  std::istringstream ss(out);
  std::vector<double> expected;
  for (double x; ss >> x;) expected.push_back(x);
  REQUIRE(expected.size() == 12);
  EvalResult r = evaluate(load_instances(gt_path.string()), load_results(res_path.string()));
  for (size_t i = 0; i < 12; ++i) {
    INFO("stat " << i << ": got " << r.stats[i] << " pycocotools " << expected[i]);
    CHECK(std::abs(r.stats[i] - expected[i]) <= 1e-12);
  }
}

// The fusion report of a training step (train/step_report.h): the jitted
// match-free step equals the eager step, the Hungarian step is the mixed
// jitted-forward / eager-matching schedule, and both leave readable reports.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mfx/mfx.h"
#include "mfx/train/step_report.h"
#include "test_utils.h"

using namespace mfx;
namespace fs = std::filesystem;

namespace {

struct Setup {
  Tree params;
  detr::Batch batch;
  detr::LossConfig cfg;
};

// A tiny detector and a batch of two 48x64 images with 2 and 1 boxes.
Setup tiny_setup() {
  Setup s;
  auto& m = s.cfg.model;
  m = detr::DetectorConfig::small_cpu(3);
  m.backbone.width_divisor = 16;
  m.detr.backbone_channels = resnet::resnet_feature_channels(m.backbone);
  m.detr.d_model = 16;
  m.detr.nheads = 2;
  m.detr.gn_groups = 4;
  m.detr.dim_ff = 32;
  m.detr.enc_layers = 1;
  m.detr.dec_layers = 2;
  m.detr.num_queries = 6;
  array key = random::key(5);
  s.params = Tree{{"model", detr::init_detector(random::fold_in(key, 1), m)},
                  {"probe", criteria::init_probe(random::fold_in(key, 2), 3, m.detr.d_model)}};
  array images = random::normal(random::fold_in(key, 3), {2, 3, 48, 64});
  array mask = zeros({2, 48, 64}, bool_);
  array labels = array({0, 2, 1, 0}, {2, 2}, int32);
  array boxes = array({0.3f, 0.4f, 0.2f, 0.3f, 0.7f, 0.6f, 0.3f, 0.2f,  //
                       0.5f, 0.5f, 0.4f, 0.4f, 0.5f, 0.5f, 1.0f, 1.0f},
                      {2, 2, 4});
  array valid = array({true, true, true, false}, {2, 2}, bool_);
  s.batch = {images, mask, criteria::Targets{labels, boxes, valid}};
  s.cfg.train = false;
  return s;
}

// The report folders written under `dir` whose names start with `prefix`.
std::vector<fs::path> reports(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> found;
  for (auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) found.push_back(e.path());
  }
  return found;
}

}  // namespace

TEST_CASE("the jitted match-free training step equals the eager one and leaves a report",
          "[train][jit]") {
  mfx::test::TempDir tmp;
  Setup s = tiny_setup();
  const double jitted = train::write_step_fusion_report(
      s.params, s.batch, s.cfg, criteria::Criterion::matchfree, tmp.path.string());
  const double eager = detr::matchfree_loss(s.params, s.batch, s.cfg).item<double>();
  CHECK(jitted == Approx(eager).epsilon(1e-5));
  auto found = reports(tmp.path, "train_step");
  REQUIRE(found.size() == 1);
  for (auto f : {"summary.txt", "report.json", "graph.html"}) {
    INFO(f);
    CHECK(fs::exists(found[0] / f));
  }
  auto report = nlohmann::json::parse(std::ifstream(found[0] / "report.json"));
  CHECK(report.dump().find("MSDeformAttn") != std::string::npos);
}

TEST_CASE("the Hungarian step report jits the forward and its derivative", "[train][jit]") {
  mfx::test::TempDir tmp;
  Setup s = tiny_setup();
  const double jitted = train::write_step_fusion_report(
      s.params, s.batch, s.cfg, criteria::Criterion::hungarian, tmp.path.string());
  const double eager = detr::hungarian_loss(s.params, s.batch, s.cfg).item<double>();
  CHECK(jitted == Approx(eager).epsilon(1e-5));
  CHECK(reports(tmp.path, "detector_forward").size() >= 2);  // forward + its vjp
}

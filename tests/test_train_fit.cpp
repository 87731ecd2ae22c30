// train::fit end to end on a tiny synthetic set: runs with both criteria,
// writes checkpoints, metrics, plots and COCO results, and a resumed run
// continues exactly like an uninterrupted one.

#include <filesystem>
#include <map>

#include "mfx/coco/synthetic.h"
#include "mfx/train/checkpoint.h"
#include "mfx/train/fit.h"
#include "mfx/train/metrics_log.h"
#include "test_utils.h"

using namespace mfx;
namespace fs = std::filesystem;

namespace {

// Everything the tests write lives under one folder removed at exit.
fs::path scratch(const std::string& name) {
  static mfx::test::TempDir root;
  fs::path p = root.path / name;
  fs::remove_all(p);
  return p;
}

train::FitConfig tiny(const fs::path& data, const fs::path& out) {
  train::FitConfig c;
  c.data_dir = data.string();
  c.out_dir = out.string();
  c.model = detr::DetectorConfig::small_cpu();
  c.train_transforms.scales = {64};
  c.train_transforms.max_size = 96;
  c.train_transforms.crop_scales = {64};
  c.train_transforms.crop_min = 48;
  c.train_transforms.crop_max = 64;
  c.val_transforms.val_size = 64;
  c.val_transforms.max_size = 96;
  c.epochs = 2;
  c.batch_size = 2;
  c.num_workers = 0;
  c.max_steps_per_epoch = 2;
  c.progress = false;
  return c;
}

fs::path tiny_data() {
  static fs::path data = [] {
    fs::path d = scratch("data");
    coco::SyntheticConfig sc;
    sc.num_train = 6;
    sc.num_val = 2;
    sc.min_side = 64;
    sc.max_side = 80;
    sc.num_classes = 3;
    coco::write_synthetic_coco(d.string(), sc);
    return d;
  }();
  return data;
}

}  // namespace

TEST_CASE("fit trains, evaluates and writes its outputs", "[train][fit]") {
  fs::path out = scratch("run");
  auto r = train::fit(tiny(tiny_data(), out));
  CHECK(r.epochs_done == 2);
  CHECK(r.steps == 4);
  CHECK(std::isfinite(r.last_loss));
  CHECK_FALSE(r.stopped_non_finite);
  for (auto f : {"last.safetensors", "metrics.jsonl", "metrics.csv", "loss.png", "ap.png",
                 "eval_epoch1.json", "eval_epoch2.json"}) {
    INFO(f);
    CHECK(fs::exists(out / f));
  }
  for (double s : r.last_stats) CHECK((s == -1.0 || (s >= 0.0 && s <= 1.0)));
  fs::remove_all(out);
}

TEST_CASE("a resumed run continues exactly like an uninterrupted one", "[train][fit]") {
  fs::path a = scratch("a"), b = scratch("b");
  auto full = tiny(tiny_data(), a);
  full.eval_every = 0;
  train::fit(full);
  auto half = tiny(tiny_data(), b);
  half.eval_every = 0;
  half.epochs = 1;
  train::fit(half);
  half.epochs = 2;
  half.resume = true;
  auto r = train::fit(half);
  CHECK(r.epochs_done == 2);
  auto ca = train::load_checkpoint((a / "last.safetensors").string());
  auto cb = train::load_checkpoint((b / "last.safetensors").string());
  CHECK(cb.step == ca.step);
  auto la = ca.params.leaves(), lb = cb.params.leaves();
  REQUIRE(la.size() == lb.size());
  size_t differing = 0;
  for (size_t i = 0; i < la.size(); ++i) {
    auto x = la[i].to_vector<double>(), y = lb[i].to_vector<double>();
    differing += x != y;
  }
  CHECK(differing == 0);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST_CASE("fit with the Hungarian criterion, and configuration errors", "[train][fit][errors]") {
  fs::path out = scratch("hung");
  auto c = tiny(tiny_data(), out);
  c.criterion = criteria::Criterion::hungarian;
  c.epochs = 1;
  c.eval_every = 0;
  auto r = train::fit(c);
  CHECK(r.steps == 2);
  // The criterion's name is checked where the text is read.
  mfx::test::check_throws_with([] { criteria::parse_criterion("focal", "--criterion"); },
                               {"--criterion", "'hungarian', 'matchfree'", "'focal'"});
  CHECK(criteria::parse_criterion("matchfree") == criteria::Criterion::matchfree);
  CHECK(std::string(criteria::to_string(criteria::Criterion::hungarian)) == "hungarian");
  c.criterion = criteria::Criterion::matchfree;
  c.data_dir = (out / "nowhere").string();
  CHECK_THROWS_AS(train::fit(c), std::runtime_error);
  fs::remove_all(out);
}

TEST_CASE("init_from starts the detector from a checkpoint's model weights", "[train][fit]") {
  fs::path src = scratch("init_src"), out = scratch("init_out");
  auto c = tiny(tiny_data(), src);
  c.epochs = 1;
  c.eval_every = 0;
  train::fit(c);
  const auto source = train::load_checkpoint((src / "last.safetensors").string());

  // One step at a negligible rate: the weights stay those of the source.
  auto f = tiny(tiny_data(), out);
  f.criterion = criteria::Criterion::hungarian;
  f.epochs = 1;
  f.max_steps_per_epoch = 1;
  f.eval_every = 0;
  f.lr = 1e-12;
  f.init_from = (src / "last.safetensors").string();
  train::fit(f);
  const auto tuned = train::load_checkpoint((out / "last.safetensors").string());
  auto a = tuned.params["model"].flatten(), b = source.params["model"].flatten();
  REQUIRE(a.size() == b.size());
  int differing = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double err =
        max(abs(astype(a[i].second, float64) - astype(b[i].second, float64))).item<double>();
    differing += err > 1e-6;
  }
  CHECK(differing == 0);
  CHECK(tuned.epoch == 1);  // a new run, not a continuation of the source

  f.model.detr.num_queries += 1;  // another model: a clear error
  mfx::test::check_throws_with([&] { train::fit(f); }, {"[fit]", "init_from", "do not match"});
  fs::remove_all(src);
  fs::remove_all(out);
}

TEST_CASE("a probe warm-up trains with L_w alone for its steps", "[train][fit]") {
  fs::path out = scratch("warmup");
  auto c = tiny(tiny_data(), out);
  c.epochs = 1;
  c.max_steps_per_epoch = 2;
  c.eval_every = 0;
  c.probe_warmup_steps = 1;
  train::fit(c);
  auto rows = train::read_metrics((out / "metrics.jsonl").string());
  auto value = [](const train::MetricsRow& row, const std::string& name) {
    for (auto& [k, v] : row) {
      if (k == name) return v.number();
    }
    FAIL("no " << name);
    return 0.0;
  };
  REQUIRE(rows.size() == 2);
  const int layers = c.model.detr.dec_layers;
  for (int s = 0; s < 2; ++s) {
    double lw = 0, lq = 0;
    for (int l = 0; l < layers; ++l) {
      lw += value(rows[s], "L_w_" + std::to_string(l));
      lq += value(rows[s], "L_q_" + std::to_string(l));
    }
    INFO("step " << s);
    CHECK(lq > 0);
    // Step 0 is the warm-up (beta_q = 0), step 1 the full loss.
    CHECK(value(rows[s], "loss") == Approx(s == 0 ? lw : lw + lq).epsilon(1e-5));
  }
  c.probe_warmup_steps = -1;
  mfx::test::check_throws_with([&] { train::fit(c); }, {"[fit]", "probe_warmup_steps"});
  fs::remove_all(out);
}

TEST_CASE("a match-free variant run records its variant and collapse metrics", "[train][fit]") {
  using Cfg = criteria::MatchFreeConfig;
  fs::path out = scratch("variant");
  auto c = tiny(tiny_data(), out);
  c.epochs = 1;
  c.max_steps_per_epoch = 1;
  c.matchfree.probe_logits = Cfg::ProbeLogits::Cosine;
  c.matchfree.attention = Cfg::Attention::Sinkhorn;
  c.matchfree.sinkhorn_iters = 5;
  c.matchfree.selection = Cfg::Selection::Greedy;
  train::fit(c);
  auto rows = train::read_metrics((out / "metrics.jsonl").string());
  REQUIRE(rows.size() == 2);  // one step, one evaluation
  std::map<std::string, train::MetricValue> eval_row(rows[1].begin(), rows[1].end());
  REQUIRE(eval_row.count("AP"));
  REQUIRE(eval_row.count("matchfree_variant"));
  CHECK(eval_row.at("matchfree_variant").string() == "cosine(s=10) sinkhorn(T=5) greedy");
  for (const char* name : {"collapse_shared_query_fraction", "collapse_top_query_mode_fraction",
                           "collapse_saturated_row_fraction"}) {
    INFO(name);
    REQUIRE(eval_row.count(name));
    const double v = eval_row.at(name).number();
    CHECK((v >= 0.0 && v <= 1.0));
  }
  const double distinct = eval_row.at("collapse_distinct_queries_per_gt").number();
  CHECK((distinct > 0.0 && distinct <= 1.0));
  // The checkpoint's metadata names the variant.
  auto info = train::load_trained_detector((out / "last.safetensors").string()).info;
  REQUIRE(info.matchfree);
  CHECK(info.matchfree->attention == Cfg::Attention::Sinkhorn);
  CHECK(info.matchfree->selection == Cfg::Selection::Greedy);
  // A bad variant setting is refused up front, naming the field.
  c.matchfree.cosine_scale = -1;
  mfx::test::check_throws_with([&] { train::fit(c); }, {"[fit]", "cosine_scale", "-1"});
  fs::remove_all(out);
}

TEST_CASE("fit keeps the best checkpoint, args.json and 1-based epochs with the lr",
          "[train][fit]") {
  fs::path out = scratch("best");
  auto c = tiny(tiny_data(), out);
  c.epochs = 3;
  c.save_every = 2;
  c.lr_drop_epoch = 2;
  const auto r = train::fit(c);
  REQUIRE(r.best_epoch >= 1);
  CHECK(r.best_epoch <= 3);
  CHECK(r.best_ap >= 0.0);
  for (auto f : {"best.safetensors", "epoch2.safetensors", "args.json"}) {
    INFO(f);
    CHECK(fs::exists(out / f));
  }
  CHECK_FALSE(fs::exists(out / "epoch1.safetensors"));
  CHECK(train::load_checkpoint((out / "best.safetensors").string()).epoch == r.best_epoch);
  // Step rows and evaluation rows number epochs alike; the lr drops after epoch 2.
  const auto rows = train::read_metrics((out / "metrics.jsonl").string());
  std::map<int64_t, double> lr_of_epoch;
  int evaluations = 0;
  for (const auto& row : rows) {
    std::map<std::string, train::MetricValue> m(row.begin(), row.end());
    REQUIRE(m.count("epoch"));
    REQUIRE(m.count("lr"));
    const auto epoch = static_cast<int64_t>(m.at("epoch").number());
    CHECK(epoch >= 1);
    CHECK(epoch <= 3);
    if (m.count("AP")) {
      ++evaluations;
      CHECK(m.count("eval_seconds"));
    } else {
      lr_of_epoch[epoch] = m.at("lr").number();
    }
  }
  CHECK(evaluations == 3);
  CHECK(lr_of_epoch.at(1) == Approx(c.lr));
  CHECK(lr_of_epoch.at(3) == Approx(c.lr * 0.1));
  fs::remove_all(out);
}

TEST_CASE("fit configuration: checked up front, recorded as JSON, resume needs a checkpoint",
          "[train][fit][errors]") {
  fs::path out = scratch("cfg");
  auto c = tiny(tiny_data(), out);
  CHECK_NOTHROW(train::check_fit_config(c));
  const std::string json = train::fit_config_json(c);
  for (auto key : {"\"epochs\": 2", "\"criterion\": \"matchfree\"", "\"model\"", "\"matchfree\"",
                   "\"val_transforms\""}) {
    INFO(key);
    CHECK(json.find(key) != std::string::npos);
  }
  auto bad = c;
  bad.lr = 0;
  mfx::test::check_throws_with([&] { train::check_fit_config(bad); }, {"[fit]", "lr", "0"});
  bad = c;
  bad.max_steps_per_epoch = 0;
  mfx::test::check_throws_with([&] { train::check_fit_config(bad); }, {"max_steps_per_epoch"});
  bad = c;
  bad.save_every = -1;
  mfx::test::check_throws_with([&] { train::check_fit_config(bad); }, {"save_every", "-1"});
  // Nothing to resume: an error, unless a new run may start.
  c.resume = true;
  mfx::test::check_throws_with([&] { train::fit(c); }, {"[fit]", "resume", "no checkpoint"});
  c.resume_or_start = true;
  c.epochs = 1;
  c.eval_every = 0;
  const auto r = train::fit(c);
  CHECK_FALSE(r.resumed);
  CHECK(r.epochs_done == 1);
  c.epochs = 2;
  CHECK(train::fit(c).resumed);
  fs::remove_all(out);
}

TEST_CASE("a diverging run stops at its step and resumes from the last good checkpoint",
          "[train][fit][errors]") {
  fs::path out = scratch("diverge");
  auto c = tiny(tiny_data(), out);
  c.criterion = criteria::Criterion::hungarian;
  c.epochs = 3;
  c.eval_every = 0;
  c.lr = 1e8;  // AdamW moves every weight by ~1e8 per step: the outputs overflow
  const auto r = train::fit(c);
  REQUIRE(r.stopped_non_finite);
  CHECK(r.epochs_done < 3);
  // The last good checkpoint (written before the first step, or after the
  // last finished epoch) holds finite weights.
  const auto last = train::load_checkpoint((out / "last.safetensors").string());
  CHECK(last.epoch == r.epochs_done);
  for (const auto& leaf : last.params.leaves()) {
    if (is_floating(leaf.dtype())) CHECK(all(isfinite(leaf)).item<bool>());
  }
  // Continued with a sane rate, it finishes.
  c.lr = 1e-4;
  c.resume = true;
  const auto again = train::fit(c);
  CHECK(again.resumed);
  CHECK_FALSE(again.stopped_non_finite);
  CHECK(again.epochs_done == 3);
  fs::remove_all(out);
}

// Training infrastructure: checkpoints (round trip, bit-identical resume,
// atomic replacement), the NaN/inf guard, the metrics log, PNG line charts,
// the progress display and detections -> COCO results.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mfx/coco/image.h"
#include "mfx/train/checkpoint.h"
#include "mfx/train/coco_results.h"
#include "mfx/train/guard.h"
#include "mfx/train/metrics_log.h"
#include "mfx/train/plot.h"
#include "mfx/train/progress.h"
#include "test_utils.h"

using namespace mfx;
namespace fs = std::filesystem;

namespace {

// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("mfx_train_infra_" + std::to_string(getpid()) + "_" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str(const std::string& file = "") const { return (path / file).string(); }
};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Dtype, shape and every value (compared as doubles, exact for all dtypes
// used here; NaN equal to NaN and the sign of zero checked).
void check_same_array(const array& a, const array& b, const std::string& what) {
  INFO(what);
  REQUIRE(a.dtype() == b.dtype());
  REQUIRE(a.shape() == b.shape());
  auto va = a.to_vector<double>();
  auto vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    INFO("element " << i << ": " << va[i] << " vs " << vb[i]);
    if (std::isnan(va[i])) {
      CHECK(std::isnan(vb[i]));
    } else {
      CHECK(va[i] == vb[i]);
      CHECK(std::signbit(va[i]) == std::signbit(vb[i]));
    }
  }
}

void check_same_tree(const Tree& a, const Tree& b) {
  REQUIRE(a.structure_str() == b.structure_str());
  auto fa = a.flatten();
  auto fb = b.flatten();
  for (size_t i = 0; i < fa.size(); ++i) check_same_array(fa[i].second, fb[i].second, fa[i].first);
}

// ---- a small deterministic optimisation problem: a 2-layer MLP ----

struct Problem {
  array x, labels;
};

Problem make_problem() {
  array key = random::key(11);
  array x = random::uniform(random::fold_in(key, 0), {128, 2}, -1.0, 1.0, float32);
  // Class = quadrant of the point (4 classes).
  array q = astype(greater(slice_axis(x, 1, 0, 1), array(0.0f)), int32) +
            2 * astype(greater(slice_axis(x, 1, 1, 2), array(0.0f)), int32);
  return {x, reshape(q, {128})};
}

Tree init_mlp(const array& key) {
  return Tree{
      {"l1", Tree{{"w", random::normal(random::fold_in(key, 0), {2, 16})}, {"b", zeros({16})}}},
      {"l2",
       Tree{{"w", random::normal(random::fold_in(key, 1), {16, 4}) * 0.25}, {"b", zeros({4})}}}};
}

array mlp_loss(const Tree& p, const array& x, const array& labels) {
  array h = relu(matmul(x, p["l1"]["w"].leaf()) + p["l1"]["b"].leaf());
  array logits = matmul(h, p["l2"]["w"].leaf()) + p["l2"]["b"].leaf();
  return -mean(sum(log_softmax(logits, -1) * one_hot(labels, 4), -1));
}

optim::AdamW make_optimizer() {
  return optim::AdamW({.lr = optim::warmup(optim::cosine(2e-2, 20, 1e-3), 4, 0.1),
                       .weight_decay = 1e-2,
                       .groups = {{.pattern = "l2", .lr_scale = 0.5}}});
}

// The state a training loop carries between steps.
struct RunState {
  Tree params, opt_state;
  array key;
  int64_t step = 0;
};

// One step: a minibatch drawn with the run's key (which then advances), a
// clipped gradient, the guard, and an AdamW update.
void train_step(RunState& r, const Problem& data, const optim::AdamW& opt) {
  array keys = random::split(r.key, 2);
  r.key = take(keys, array(0), 0);
  array idx = random::randint(take(keys, array(1), 0), 0, 128, {32});
  auto [loss, grads] =
      value_and_grad(mlp_loss)(r.params, take(data.x, idx, 0), take(data.labels, idx, 0));
  grads = optim::clip_by_global_norm(grads, 1.0).first;
  train::check_finite(loss, grads, r.step);
  std::tie(r.params, r.opt_state) = opt.update(r.params, grads, r.opt_state);
  eval(Tree{{"p", r.params}, {"s", r.opt_state}, {"k", r.key}});
  ++r.step;
}

RunState fresh_run() {
  RunState r;
  r.params = init_mlp(random::key(3));
  r.opt_state = make_optimizer().init(r.params);
  r.key = random::key(5);
  return r;
}

train::Checkpoint to_checkpoint(const RunState& r) {
  return {r.params, r.opt_state, r.key, /*epoch=*/r.step / 4, r.step, R"({"best_loss": 0.5})"};
}

}  // namespace

TEST_CASE("checkpoint round trip restores every array bit-exactly", "[train]") {
  TempDir dir("roundtrip");
  // Mixed dtypes, a list, an empty dict, views (transpose, slice) and NaN / -0.
  Tree params{{"conv", Tree{{"w", transpose(reshape(astype(arange(6), float32) / 7.0, {2, 3}))},
                            {"b", array({-0.0f, NAN, INFINITY}, {3})}}},
              {"half", astype(array({1.5f, -2.25f}, {2}), bfloat16)},
              {"layers", Tree::List{Tree(array(int64_t{9})),
                                    Tree(slice_axis(arange(10, int32), 0, 8, 1, -3))}},
              {"empty", Tree::Dict{}}};
  Tree state{{"step", array(int64_t{17})}, {"m", params}};
  train::Checkpoint c{params, state, random::key(42), 3, 17, R"({"best_ap": 0.25, "note": "x"})"};
  std::string path = train::save_checkpoint(dir.str("ckpt"), c);
  CHECK(path == dir.str("ckpt/last.safetensors"));
  REQUIRE(train::latest_checkpoint(dir.str("ckpt")) == path);

  train::Checkpoint back = train::load_checkpoint(path);
  check_same_tree(back.params, params);
  check_same_tree(back.opt_state, state);
  check_same_array(back.rng_key, random::key(42), "rng_key");
  CHECK(back.epoch == 3);
  CHECK(back.step == 17);
  CHECK(back.extra == R"({"best_ap":0.25,"note":"x"})");
  CHECK_FALSE(fs::exists(dir.str("ckpt/best.safetensors")));

  SECTION("without a key") {
    c.rng_key = array();
    back = train::load_checkpoint(train::save_checkpoint(dir.str("nokey"), c));
    CHECK_FALSE(back.rng_key.valid());
  }
}

TEST_CASE("checkpoint: a flipped bit is a checksum error naming the file", "[train]") {
  TempDir dir("checksum");
  Tree params{{"w", astype(arange(64), float32)}, {"b", array({true, false}, {2})}};
  train::Checkpoint c{params, Tree{{"m", params}}, random::key(3), 2, 5, R"({"ap": 0.5})"};
  const std::string path = train::save_checkpoint(dir.str(), c);
  std::vector<char> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  REQUIRE(bytes.size() > 300);
  auto write_flipped = [&](size_t at, int bit) {
    std::vector<char> b = bytes;
    b[at] = static_cast<char>(b[at] ^ (1 << bit));
    std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
  };
  // A bit of the float data (near the end of the file).
  write_flipped(bytes.size() - 9, 3);
  mfx::test::check_runtime_error_with([&] { train::load_checkpoint(path); },
                                      {"[load_checkpoint]", path, "checksum mismatch"});
  // A digit of the epoch in the header's metadata ("2" -> "3").
  const std::string text(bytes.begin(), bytes.end());
  const size_t epoch = text.find("\"mfx.checkpoint.epoch\":\"2\"");
  REQUIRE(epoch != std::string::npos);
  write_flipped(epoch + std::string("\"mfx.checkpoint.epoch\":\"").size(), 0);
  mfx::test::check_runtime_error_with([&] { train::load_checkpoint(path); },
                                      {"[load_checkpoint]", path, "checksum mismatch"});
  // Unchanged bytes load.
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK(train::load_checkpoint(path).epoch == 2);
}

TEST_CASE("checkpoint: files without a checksum (older versions) still load", "[train]") {
  TempDir dir("nochecksum");
  const std::string path = dir.str("old.safetensors");
  save_tree(path, Tree{{"params", Tree{{"w", array(1.5f)}}}, {"opt_state", Tree{}}},
            {{"mfx.checkpoint", "1"}, {"mfx.checkpoint.epoch", "4"}, {"mfx.checkpoint.step", "9"}});
  train::Checkpoint c = train::load_checkpoint(path);
  CHECK(c.epoch == 4);
  CHECK(c.params["w"].leaf().item<float>() == 1.5f);
}

TEST_CASE("checkpoint: temporaries of killed saves are removed by the next save", "[train]") {
  TempDir dir("stale");
  // The pid of a process that has exited: a writer killed mid-save.
  const pid_t child = fork();
  if (child == 0) _exit(0);
  REQUIRE(child > 0);
  waitpid(child, nullptr, 0);
  const std::string dead = std::to_string(child), live = std::to_string(getppid());
  const std::vector<std::string> stale{".last.safetensors.tmp-" + dead + "-0123456789abcdef",
                                       ".best.safetensors.tmp-" + dead + "-fedcba9876543210"};
  const std::vector<std::string> kept{".last.safetensors.tmp-" + live + "-0123456789abcdef",
                                      ".other.safetensors.tmp-" + dead + "-0123456789abcdef",
                                      ".last.safetensors.tmp-" + dead + "-0123",
                                      "last.safetensors.tmp-" + dead + "-0123456789abcdef"};
  for (const auto& n : stale) std::ofstream(dir.str(n)) << "partial";
  for (const auto& n : kept) std::ofstream(dir.str(n)) << "keep";
  train::save_checkpoint(dir.str(), {Tree{{"w", array(1.0f)}}, Tree{}, array(), 0, 1}, true);
  for (const auto& n : stale) CHECK_FALSE(fs::exists(dir.str(n)));
  for (const auto& n : kept) CHECK(fs::exists(dir.str(n)));
  CHECK(train::load_checkpoint(dir.str("best.safetensors")).step == 1);
}

TEST_CASE("checkpoint: best, latest and errors", "[train]") {
  TempDir dir("best");
  CHECK_FALSE(train::latest_checkpoint(dir.str("missing")).has_value());
  CHECK_FALSE(train::latest_checkpoint(dir.str()).has_value());
  auto ckpt = [](int64_t step) {
    return train::Checkpoint{Tree{{"w", array(static_cast<float>(step))}}, Tree{}, random::key(1),
                             0, step};
  };
  train::save_checkpoint(dir.str(), ckpt(1));
  train::save_checkpoint(dir.str(), ckpt(2), /*best=*/true);
  train::save_checkpoint(dir.str(), ckpt(3));
  CHECK(train::load_checkpoint(dir.str("last.safetensors")).step == 3);
  train::Checkpoint best = train::load_checkpoint(dir.str("best.safetensors"));
  CHECK(best.step == 2);
  CHECK(best.params.at("w").item<float>() == 2.0f);

  mfx::test::check_throws_with([&] { train::save_checkpoint(dir.str(), {.extra = "[1, 2]"}); },
                               {"[save_checkpoint]", "JSON object", "[1, 2]"});
  mfx::test::check_throws_with([&] { train::save_checkpoint(dir.str(), {.extra = "{bad"}); },
                               {"[save_checkpoint]", "{bad"});
  CHECK(train::load_checkpoint(dir.str("last.safetensors")).step == 3);

  // Files that are not checkpoints are rejected with the path in the message.
  save_tree(dir.str("plain.safetensors"), Tree{{"params", array(1.0f)}});
  CHECK_THROWS_WITH(
      train::load_checkpoint(dir.str("plain.safetensors")),
      Catch::Contains("not an mfx checkpoint") && Catch::Contains("plain.safetensors"));
  CHECK_THROWS_WITH(train::load_checkpoint(dir.str("nope.safetensors")),
                    Catch::Contains("[load_checkpoint]") && Catch::Contains("no such file"));
  {
    std::ofstream f(dir.str("junk.safetensors"), std::ios::binary);
    f << "not a safetensors file at all";
  }
  CHECK_THROWS_AS(train::load_checkpoint(dir.str("junk.safetensors")), std::runtime_error);
}

TEST_CASE("a failing checkpoint write leaves the previous checkpoint intact", "[train]") {
  TempDir dir("atomic");
  Tree good{{"w", array({1.0f, 2.0f}, {2})}};
  train::save_checkpoint(dir.str(), {good, Tree{}, random::key(0), 1, 10}, true);
  std::string before = read_file(dir.str("last.safetensors"));

  // A leaf whose evaluation fails (an out-of-range gather found by the kernel).
  Tree bad{{"w", take(array({1.0f, 2.0f}, {2}), array({0, 5}, {2}), 0)}};
  CHECK_THROWS_WITH(train::save_checkpoint(dir.str(), {bad, Tree{}, random::key(0), 2, 20}, true),
                    Catch::Contains("out of range"));
  // A leaf path that cannot be saved (two dict keys flatten to "a.b").
  Tree clash{{"a", Tree{{"b", array(1.0f)}}}, {"a.b", array(2.0f)}};
  CHECK_THROWS(train::save_checkpoint(dir.str(), {clash, Tree{}, random::key(0), 3, 30}));
  // The target directory path is a file.
  std::ofstream(dir.str("file")) << "x";
  CHECK_THROWS_WITH(train::save_checkpoint(dir.str("file"), {good, Tree{}, array(), 4, 40}),
                    Catch::Contains("[save_checkpoint]"));

  CHECK(read_file(dir.str("last.safetensors")) == before);
  train::Checkpoint c = train::load_checkpoint(dir.str("last.safetensors"));
  CHECK(c.step == 10);
  CHECK(train::load_checkpoint(dir.str("best.safetensors")).step == 10);
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir.path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"best.safetensors", "file", "last.safetensors"});
}

TEST_CASE("resuming from a checkpoint continues bit-identically", "[train]") {
  const Problem data = make_problem();
  const optim::AdamW opt = make_optimizer();
  constexpr int64_t kSteps = 12, kResumeAt = 5;
  TempDir dir("resume");

  RunState straight = fresh_run();
  for (int64_t i = 0; i < kSteps; ++i) train_step(straight, data, opt);

  {
    RunState first = fresh_run();
    for (int64_t i = 0; i < kResumeAt; ++i) train_step(first, data, opt);
    train::save_checkpoint(dir.str(), to_checkpoint(first));
  }  // the interrupted run is gone

  auto path = train::latest_checkpoint(dir.str());
  REQUIRE(path.has_value());
  train::Checkpoint c = train::load_checkpoint(*path);
  CHECK(c.step == kResumeAt);
  CHECK(c.epoch == kResumeAt / 4);
  RunState resumed{c.params, c.opt_state, c.rng_key, c.step};
  for (int64_t i = kResumeAt; i < kSteps; ++i) train_step(resumed, data, opt);

  check_same_tree(resumed.params, straight.params);
  check_same_tree(resumed.opt_state, straight.opt_state);
  check_same_array(resumed.key, straight.key, "key");
  CHECK(resumed.opt_state["step"].leaf().item<int64_t>() == kSteps);

  // Sanity: the run learns, and a different continuation differs (so the
  // comparison above can fail).
  CHECK(mlp_loss(straight.params, data.x, data.labels).item<double>() <
        mlp_loss(fresh_run().params, data.x, data.labels).item<double>());
  RunState other{c.params, c.opt_state, random::key(6), c.step};
  train_step(other, data, opt);
  RunState same{c.params, c.opt_state, c.rng_key, c.step};
  train_step(same, data, opt);
  CHECK(any(not_equal(other.params.at("l1.w"), same.params.at("l1.w"))).item<bool>());
}

TEST_CASE("check_finite names the step and the non-finite leaves", "[train]") {
  Tree grads{{"l1", Tree{{"w", array({1.0f, 2.0f}, {2})}, {"b", array(0.5f)}}},
             {"l2", Tree::List{Tree(array({1.0, 3.0}, {2})), Tree(array(int32_t{4}))}}};
  CHECK_NOTHROW(train::check_finite(array(0.25f), grads, 0));

  try {
    train::check_finite(array(NAN), grads, 7);
    FAIL("expected NonFiniteError");
  } catch (const train::NonFiniteError& e) {
    CHECK(e.step() == 7);
    CHECK(e.paths() == std::vector<std::string>{"loss"});
    CHECK(std::string(e.what()) ==
          "[check_finite] step 7: non-finite values in 1 of 5 leaves: loss (nan)");
  }

  // Named loss components and gradient views (a transposed inf, a broadcast NaN).
  Tree losses{{"ce", array(0.5f)}, {"bbox", array(-INFINITY)}};
  Tree bad{{"l1", Tree{{"w", transpose(array({1.0f, INFINITY, 2.0f, 3.0f}, {2, 2}))},
                       {"b", broadcast_to(array(NAN), {3})}}},
           {"l2", array({1.0f}, {1})}};
  try {
    train::check_finite(losses, bad, 123);
    FAIL("expected NonFiniteError");
  } catch (const train::NonFiniteError& e) {
    CHECK(e.paths() == std::vector<std::string>{"loss.bbox", "grads.l1.b", "grads.l1.w"});
    CHECK(std::string(e.what()) ==
          "[check_finite] step 123: non-finite values in 3 of 5 leaves: loss.bbox (-inf), "
          "grads.l1.b, grads.l1.w");
  }

  // Long lists are cut after 10 paths.
  Tree::List many;
  for (int i = 0; i < 13; ++i) many.push_back(Tree(array({NAN, 1.0f}, {2})));
  try {
    train::check_finite(array(1.0f), Tree(many), 2);
    FAIL("expected NonFiniteError");
  } catch (const train::NonFiniteError& e) {
    CHECK(e.paths().size() == 13);
    std::string msg = e.what();
    CHECK(msg.find("13 of 14 leaves: grads.0, grads.1,") != std::string::npos);
    CHECK(msg.find("grads.9, and 3 more") != std::string::npos);
  }

  mfx::test::check_throws_with(
      [&] {
        train::check_finite(array(1.0f), Tree{{"g", array()}}, 0);
      },
      {"[check_finite]", "grads.g", "null"});
}

TEST_CASE("a loop stops at a non-finite step and keeps the last good checkpoint", "[train]") {
  const Problem data = make_problem();
  const optim::AdamW opt = make_optimizer();
  TempDir dir("guard_loop");
  RunState r = fresh_run();
  int64_t stopped_at = -1;
  for (int64_t i = 0; i < 6; ++i) {
    if (i == 3) r.params["l1"]["b"] = Tree(full({16}, NAN));  // poisoned mid-run
    try {
      train_step(r, data, opt);
    } catch (const train::NonFiniteError& e) {
      stopped_at = e.step();
      CHECK(std::string(e.what()).find("grads.l1.b") != std::string::npos);
      break;
    }
    train::save_checkpoint(dir.str(), to_checkpoint(r));
  }
  CHECK(stopped_at == 3);
  train::Checkpoint last = train::load_checkpoint(*train::latest_checkpoint(dir.str()));
  CHECK(last.step == 3);
  CHECK(all(isfinite(last.params.at("l1.b"))).item<bool>());
}

TEST_CASE("metrics log writes JSON lines and a CSV with stable columns", "[train]") {
  TempDir dir("metrics");
  {
    train::MetricsLog log(dir.str("run"));
    log.log({{"epoch", 0}, {"step", 1}, {"loss", 1.5}, {"lr", 1e-4}});
    log.log({{"epoch", 0}, {"step", 2}, {"loss", 0.25}, {"lr", 1e-4}});
    // Reordered names keep their columns; a new name widens the header.
    log.log({{"step", 2}, {"epoch", 0}, {"AP", 0.125}, {"phase", "val, final"}});
    log.log({{"epoch", 1}, {"step", 3}, {"loss", NAN}});
    CHECK(log.columns() == std::vector<std::string>{"epoch", "step", "loss", "lr", "AP", "phase"});
    mfx::test::check_throws_with(
        [&] {
          log.log({{"a", 1}, {"a", 2}});
        },
        {"[MetricsLog::log]", "'a' given twice"});
    mfx::test::check_throws_with([&] { log.log({}); }, {"[MetricsLog::log]", "empty row"});
  }
  CHECK(read_file(dir.str("run/metrics.csv")) ==
        "epoch,step,loss,lr,AP,phase\n"
        "0,1,1.5,1e-04,,\n"
        "0,2,0.25,1e-04,,\n"
        "0,2,,,0.125,\"val, final\"\n"
        "1,3,nan,,,\n");
  CHECK(read_file(dir.str("run/metrics.jsonl")) ==
        "{\"epoch\":0,\"step\":1,\"loss\":1.5,\"lr\":0.0001}\n"
        "{\"epoch\":0,\"step\":2,\"loss\":0.25,\"lr\":0.0001}\n"
        "{\"step\":2,\"epoch\":0,\"AP\":0.125,\"phase\":\"val, final\"}\n"
        "{\"epoch\":1,\"step\":3,\"loss\":null}\n");

  auto rows = train::read_metrics(dir.str("run/metrics.jsonl"));
  REQUIRE(rows.size() == 4);
  CHECK(rows[0] == train::MetricsRow{{"epoch", 0}, {"step", 1}, {"loss", 1.5}, {"lr", 1e-4}});
  CHECK(rows[2][3].second.string() == "val, final");
  CHECK(std::isnan(rows[3][2].second.number()));
  auto [xs, ys] = train::metric_series(rows, "step", "loss");
  CHECK(xs == std::vector<double>{1, 2, 3});
  CHECK(ys[0] == 1.5);
  CHECK(ys[1] == 0.25);

  // Resuming at step 2 drops the row logged after the checkpoint.
  {
    auto log = train::MetricsLog::resume(dir.str("run"), 2);
    CHECK(log.rows().size() == 3);
    log.log({{"epoch", 1}, {"step", 3}, {"loss", 0.5}});
  }
  CHECK(read_file(dir.str("run/metrics.csv")) ==
        "epoch,step,loss,lr,AP,phase\n"
        "0,1,1.5,1e-04,,\n"
        "0,2,0.25,1e-04,,\n"
        "0,2,,,0.125,\"val, final\"\n"
        "1,3,0.5,,,\n");
  CHECK(train::read_metrics(dir.str("run/metrics.jsonl")).size() == 4);

  // A fresh log replaces the old files.
  { train::MetricsLog log(dir.str("run")); }
  CHECK(read_file(dir.str("run/metrics.jsonl")).empty());

  std::ofstream(dir.str("bad.jsonl")) << "{\"a\": 1}\n[1, 2]\n";
  CHECK_THROWS_WITH(train::read_metrics(dir.str("bad.jsonl")),
                    Catch::Contains("bad.jsonl:2") && Catch::Contains("not a JSON object"));
}

TEST_CASE("plot_lines writes a PNG with axes, text and coloured curves", "[train]") {
  TempDir dir("plot");
  // A rising line and a falling one over x in [0, 10].
  train::Series up, down;
  for (int i = 0; i <= 10; ++i) {
    up.x.push_back(i);
    up.y.push_back(i);
    down.x.push_back(i);
    down.y.push_back(10 - i);
  }
  std::string path = dir.str("loss.png");
  train::plot_lines(path, {{"a_up", up}, {"b_down", down}},
                    {.title = "Loss", .x_label = "step", .y_label = "value"});
  coco::RgbImage img = coco::read_image(path);
  REQUIRE(img.w == 800);
  REQUIRE(img.h == 500);

  auto is = [&](int y, int x, std::array<uint8_t, 3> c) {
    const uint8_t* p = img.at(y, x);
    return p[0] == c[0] && p[1] == c[1] && p[2] == c[2];
  };
  // In each sampled column, the rows holding each curve's colour: the rising
  // curve moves up (smaller rows) as x grows, the falling one down.
  auto rows_of = [&](int x, std::array<uint8_t, 3> c) {
    std::vector<int> rows;
    for (int y = 0; y < img.h; ++y)
      if (is(y, x, c)) rows.push_back(y);
    return rows;
  };
  int prev_up = img.h, prev_down = -1, columns = 0;
  for (int x = 150; x <= 550; x += 50) {  // left of the legend
    auto ru = rows_of(x, train::series_colour(0));
    auto rd = rows_of(x, train::series_colour(1));
    INFO("column " << x);
    REQUIRE(!ru.empty());
    REQUIRE(!rd.empty());
    CHECK(ru.back() - ru.front() < 8);  // a thin line, not a filled area
    CHECK(ru.front() < prev_up);
    CHECK(rd.front() > prev_down);
    prev_up = ru.front();
    prev_down = rd.front();
    ++columns;
  }
  CHECK(columns == 9);
  // The curves cross in the middle: x = 5 maps to the centre of the data area.

  // Dark text pixels: the title at the top, tick numbers left of the axis.
  auto dark_in = [&](int y0, int y1, int x0, int x1) {
    int n = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) n += img.at(y, x)[0] < 60 && img.at(y, x)[2] < 60;
    return n;
  };
  CHECK(dark_in(0, 28, 300, 500) > 20);  // "LOSS" at scale 2
  CHECK(dark_in(0, 28, 0, 250) == 0);
  CHECK(dark_in(40, 460, 10, 40) > 50);  // y tick numbers and the rotated label

  // Errors.
  mfx::test::check_throws_with(
      [&] {
        train::render_lines({{"bad", {{1, 2}, {1}}}});
      },
      {"[plot_lines]", "'bad'", "2 x values and 1 y values"});
  mfx::test::check_throws_with([&] { train::render_lines({}, {.width = 100}); },
                               {"[plot_lines]", "100x500"});
  // Degenerate data still renders: no series, a single point, NaN gaps.
  CHECK_NOTHROW(train::render_lines({}));
  CHECK_NOTHROW(train::render_lines({{"one", {{3}, {0.5}}}, {"gap", {{0, 1, 2}, {1, NAN, 1}}}}));
}

TEST_CASE("progress lines show epoch, steps, rate, losses and ETA", "[train]") {
  train::ProgressState s{.epoch = 1,
                         .epochs = 12,
                         .step = 35,
                         .steps = 100,
                         .images_per_s = 12.345,
                         .eta_s = 192,
                         .values = {{"loss", 1.23456}, {"loss_ce", 0.5}}};
  CHECK(train::format_progress(s, 10) ==
        "epoch 2/12 [###.......] 35/100 | 12.3 img/s | loss 1.235 loss_ce 0.5 | ETA 3m12s");
  CHECK(train::format_progress({.epoch = 0, .step = 7, .eta_s = 7325}) ==
        "epoch 1 step 7 | 0.0 img/s | ETA 2h02m");

  double now = 0;
  auto clock = [&] { return now; };
  SECTION("plain lines when not a terminal") {
    std::ostringstream out;
    {
      train::ProgressBar bar(10, 2,
                             {.out = &out, .tty = false, .plain_interval_s = 5, .clock = clock});
      bar.start_epoch(0);
      for (int step = 1; step <= 10; ++step) {
        now += 1.0;
        bar.update(step, 4, {{"loss", 1.0 / step}});
      }
      bar.finish_epoch();
    }
    // Printed at t=1 (first update; no ETA before a second step) and t=6
    // (5 s later), then the epoch end.
    CHECK(out.str() ==
          "epoch 1/2 [##..................] 1/10 | 4.0 img/s | loss 1\n"
          "epoch 1/2 [############........] 6/10 | 4.0 img/s | loss 0.1667 | ETA 14s\n"
          "epoch 1/2 [####################] 10/10 | 4.0 img/s | loss 0.1 | ETA 10s\n");
  }
  SECTION("the ETA leaves out the first step and adds the evaluations to come") {
    std::ostringstream out;
    train::ProgressBar bar(4, 1, {.out = &out, .tty = false, .plain_interval_s = 0, .clock = clock});
    bar.set_extra_seconds(30);
    bar.start_epoch(0);
    now = 20;  // a slow first step (compilation)
    bar.update(1, 1, {});
    now = 21;
    bar.update(2, 1, {});
    // 1 s per step after the first: 2 steps left, plus 30 s of evaluation.
    CHECK(out.str().find("2/4 | 0.1 img/s | ETA 32s\n") != std::string::npos);
  }
  SECTION("one rewritten line on a terminal") {
    std::ostringstream out;
    train::ProgressBar bar(4, 0, {.out = &out, .tty = true, .clock = clock});
    bar.start_epoch(0);
    now = 2;
    bar.update(1, 8, {});
    now = 2.05;
    bar.update(2, 8, {});  // within the redraw interval: not drawn
    now = 4;
    bar.update(4, 8, {});
    bar.finish_epoch();
    CHECK(out.str() ==
          "\repoch 1 [#####...............] 1/4 | 4.0 img/s\x1b[K"
          "\repoch 1 [####################] 4/4 | 6.0 img/s | ETA 0s\x1b[K"
          "\repoch 1 [####################] 4/4 | 6.0 img/s | ETA 0s\x1b[K\n");
  }
}

TEST_CASE("to_coco_results converts xyxy detections to COCO xywh", "[train]") {
  // Batch of 2 images x 2 slots; scores as float16 views, boxes transposed in.
  array scores = astype(array({0.9f, 0.5f, 0.25f, 0.75f}, {2, 2}), float16);
  array labels = array({1, 0, 2, 1}, {2, 2});
  array boxes = array({10.f, 20.f, 30.f, 60.f, 0.f, 0.f, 5.f, 5.f,  //
                       1.5f, 2.5f, 3.5f, 4.5f, 7.f, 8.f, 7.f, 9.f},
                      {2, 2, 4});
  auto dets = train::to_coco_results(scores, labels, boxes, {42, 7}, {1, 3, 90});
  REQUIRE(dets.size() == 4);
  CHECK(dets[0].image_id == 42);
  CHECK(dets[0].category_id == 3);
  CHECK(dets[0].bbox == coco::BoxXYWH{10, 20, 20, 40});
  CHECK(dets[0].score == Approx(0.9).epsilon(1e-3));
  CHECK(dets[1].category_id == 1);
  CHECK(dets[1].bbox == coco::BoxXYWH{0, 0, 5, 5});
  CHECK(dets[2].image_id == 7);
  CHECK(dets[2].category_id == 90);
  CHECK(dets[2].bbox == coco::BoxXYWH{1.5, 2.5, 2, 2});
  CHECK(dets[3].bbox == coco::BoxXYWH{7, 8, 0, 1});
  CHECK(dets[3].score == 0.75);

  // Identity label map; a transposed (non-contiguous) boxes view.
  array bt = transpose(array({0.f, 1.f, 2.f, 3.f, 4.f, 5.f, 6.f, 7.f}, {1, 4, 2}), {0, 2, 1});
  auto id = train::to_coco_results(array({0.5f, 0.25f}, {1, 2}), array({5, 6}, {1, 2}), bt, {1});
  REQUIRE(id.size() == 2);
  CHECK(id[0].category_id == 5);
  CHECK(id[0].bbox == coco::BoxXYWH{0, 2, 4, 4});  // (x0,y0,x1,y1) = (0,2,4,6)
  CHECK(id[1].bbox == coco::BoxXYWH{1, 3, 4, 4});

  mfx::test::check_throws_with(
      [&] {
        train::to_coco_results(scores, labels, reshape(boxes, {2, 8}), {1, 2});
      },
      {"[to_coco_results]", "(2,2)", "(2,8)"});
  mfx::test::check_throws_with(
      [&] {
        train::to_coco_results(scores, astype(labels, float32), boxes, {1, 2});
      },
      {"[to_coco_results]", "float32"});
  mfx::test::check_throws_with([&] { train::to_coco_results(scores, labels, boxes, {1}); },
                               {"[to_coco_results]", "1 image ids", "batch of 2"});
  mfx::test::check_throws_with(
      [&] {
        train::to_coco_results(scores, labels, boxes, {42, 7}, {1, 3});
      },
      {"[to_coco_results]", "image 7", "slot 0", "label 2", "2 entries"});
  mfx::test::check_throws_with(
      [&] {
        train::to_coco_results(array({NAN}, {1, 1}), array({0}, {1, 1}), zeros({1, 1, 4}), {3});
      },
      {"[to_coco_results]", "image 3", "non-finite"});
}

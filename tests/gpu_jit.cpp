// GPU check of jitted functions on GPU arrays (ctest "gpu_jit", label gpu):
// the match-free loss and all its gradients at a small size, jitted on GPU
// arrays (a GPU plan: block-fused kernels as PTX, cuBLAS matmuls), against
// the same function eagerly on the CPU; and a range error from the device
// path; the same programs replayed as CUDA graphs (JitOptions::cuda_graph).
// Without a GPU it prints why and exits 77 (ctest: skipped).
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "mfx/criteria/criteria_trees.h"
#include "mfx/gpu.h"
#include "mfx/jit.h"
#include "mfx/mfx.h"

using namespace mfx;
using namespace mfx::criteria;

namespace {

int failures = 0;

void expect_close(const array& got, const array& want, double tol, const std::string& what) {
  array g = to_device(got, Device::cpu());
  double err = max(abs(astype(g, float64) - astype(want, float64))).item<double>();
  double scale = std::max(1e-6, max(abs(astype(want, float64))).item<double>());
  if (!(err <= tol * scale)) {
    ++failures;
    std::printf("FAILED: %s: max error %.3g (scale %.3g)\n", what.c_str(), err, scale);
  }
}

Tree to_gpu(const Tree& t) {
  return t.map([](const array& a) { return to_device(a, Device::gpu()); });
}

// The small match-free problem both jit cases use: sizes, padded targets and
// decoder outputs drawn from keys offset by `seed`.
constexpr int kLayers = 2, kB = 4, kN = 64, kK = 12, kD = 32, kM = 8;

Tree small_targets() {
  std::vector<array> labels, boxes;
  for (int b = 0; b < kB; ++b) {
    labels.push_back(astype(remainder(arange(b + 2, int32) * 5 + b, array(kK)), int32));
    boxes.push_back(sigmoid(random::normal(random::key(40 + b), {b + 2, 4})) * 0.5f + 0.25f);
  }
  Targets t = pad_targets(labels, boxes, kM);
  return Tree{{"labels", t.labels}, {"boxes", t.boxes}, {"mask", t.mask}};
}

Tree small_outputs(int seed) {
  DecoderOutputs o;
  for (int l = 0; l < kLayers; ++l) {
    o.logits.push_back(random::normal(random::key(seed + 10 + l), {kB, kN, kK}) * 2.0f);
    o.boxes.push_back(sigmoid(random::normal(random::key(seed + 20 + l), {kB, kN, 4})));
    o.hidden.push_back(random::normal(random::key(seed + 30 + l), {kB, kN, kD}));
  }
  return outputs_tree(o);
}

void matchfree_step() {
  Tree probe = init_probe(random::key(1), kK, kD, 32, float32);
  Tree targets = small_targets();
  Tree outs = small_outputs(0);
  auto step = matchfree_loss_and_grads(kLayers);
  auto [loss, g_probe, g_outs] = step(probe, outs, targets);
  auto jstep = jit_tree(step, {.name = "matchfree_gpu"});
  auto [jloss, jg_probe, jg_outs] = jstep(to_gpu(probe), to_gpu(outs), to_gpu(targets));
  expect_close(jloss, loss, 1e-4, "loss");
  auto a = g_probe.leaves(), b = jg_probe.leaves();
  for (size_t i = 0; i < a.size(); ++i)
    expect_close(b[i], a[i], 1e-3, fmt::format("probe grad {}", i));
  a = g_outs.leaves(), b = jg_outs.leaves();
  for (size_t i = 0; i < a.size(); ++i)
    expect_close(b[i], a[i], 1e-3, fmt::format("output grad {}", i));
}

// An out-of-range index under jit on the GPU is found by the device check
// and reported when the result is read (the next synchronisation); the
// function keeps working with good indices afterwards.
void range_error() {
  auto f = jit([](const std::vector<array>& a) {
    return std::vector<array>{sum(take_along_axis(a[0], a[1], 1))};
  });
  array x = to_device(random::normal(random::key(3), {4, 5}), Device::gpu());
  array bad = to_device(array({0, 1, 5, 2}, Shape{4, 1}, int32), Device::gpu());
  array good = to_device(array({0, 1, 4, 2}, Shape{4, 1}, int32), Device::gpu());
  try {
    array r = f({x, bad})[0];
    eval(r);  // no synchronisation: nothing reported yet
    to_device(r, Device::cpu());
    ++failures;
    std::printf("FAILED: out-of-range index on the GPU was not reported\n");
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).find("index 5") == std::string::npos ||
        std::string(e.what()).find("size 5") == std::string::npos) {
      ++failures;
      std::printf("FAILED: unexpected message: %s\n", e.what());
    }
  }
  array want =
      sum(take_along_axis(to_device(x, Device::cpu()), array({0, 1, 4, 2}, Shape{4, 1}, int32), 1));
  expect_close(f({x, good})[0], want, 1e-6, "good indices after a reported error");
}

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

// The match-free step replayed as a CUDA graph: call 1 runs step by step,
// call 2 captures, calls 3-4 replay; every call's results (with different
// inputs each time) equal the eager CPU step, and earlier results stay valid.
void matchfree_graph() {
  Tree probe = init_probe(random::key(1), kK, kD, 32, float32);
  Tree targets = small_targets();
  auto step = matchfree_loss_and_grads(kLayers);
  auto jstep = jit_tree(step, {.name = "matchfree_graph", .cuda_graph = true});
  std::vector<array> first_loss;
  std::vector<array> want_first;
  for (int call = 0; call < 4; ++call) {
    Tree outs = small_outputs(1000 + 100 * call);
    auto [loss, g_probe, g_outs] = step(probe, outs, targets);
    auto [jloss, jg_probe, jg_outs] = jstep(to_gpu(probe), to_gpu(outs), to_gpu(targets));
    expect_close(jloss, loss, 1e-4, fmt::format("graph call {}: loss", call));
    auto a = g_outs.leaves(), b = jg_outs.leaves();
    for (size_t i = 0; i < a.size(); ++i)
      expect_close(b[i], a[i], 1e-3, fmt::format("graph call {}: output grad {}", call, i));
    if (call == 0) {
      first_loss.push_back(jloss);
      want_first.push_back(loss);
    }
  }
  expect_close(first_loss[0], want_first[0], 1e-4, "the first call's loss after later calls");
}

// A gather's index check runs on the device, so its plan is captured; a bad
// index in a replay is reported when the result is read.
void gather_graph() {
  JitOptions o;
  o.name = "gather_graph";
  o.cuda_graph = true;
  auto f = jit(
      [](const std::vector<array>& a) {
        return std::vector<array>{take_along_axis(a[0], a[1], 1) * 2.0f};
      },
      o);
  array x = random::normal(random::key(3), {4, 5});
  array gx = to_device(x, Device::gpu());
  for (int call = 0; call < 4; ++call) {
    array idx = array({call % 5, 1, 4, 2}, Shape{4, 1}, int32);
    array got = f({gx, to_device(idx, Device::gpu())})[0];
    expect_close(got, take_along_axis(x, idx, 1) * 2.0f, 1e-6, fmt::format("gather call {}", call));
  }
  expect(f.stats().cuda_graph == "captured", "gather graph status: " + f.stats().cuda_graph);
  bool reported = false;
  try {
    array bad = to_device(array({0, -6, 1, 2}, Shape{4, 1}, int32), Device::gpu());
    to_device(f({gx, bad})[0], Device::cpu());
  } catch (const std::invalid_argument& e) {
    reported = std::string(e.what()).find("index -6") != std::string::npos;
  }
  expect(reported, "a bad index in a graph replay is reported");
}

// A function with a step that needs the host (float16 cumsum's round trip)
// keeps running step by step, with correct results and the reason in its stats.
void graph_fallback() {
  JitOptions o;
  o.name = "cumsum_graph";
  o.cuda_graph = true;
  auto f = jit(
      [](const std::vector<array>& a) {
        return std::vector<array>{cumsum(astype(a[0], float16), 1) * 2.0f};
      },
      o);
  array x = random::normal(random::key(3), {4, 5});
  for (int call = 0; call < 3; ++call) {
    array got = f({to_device(x * float(call + 1), Device::gpu())})[0];
    expect_close(got, cumsum(astype(x * float(call + 1), float16), 1) * 2.0f, 1e-3,
                 fmt::format("fallback call {}", call));
  }
  const std::string status = f.stats().cuda_graph;
  expect(status.rfind("not captured", 0) == 0, "cumsum plan status: " + status);
}

// A small MLP training step (matmuls through cuBLAS, fused epilogues) as a
// graph: the graph has nodes and replays equal the eager CPU step.
void mlp_graph() {
  auto step = [](const std::vector<array>& a) {
    auto loss = [&](const array& w1, const array& w2) {
      array h = maximum(matmul(a[0], w1), array(0.0f));
      return mean(square(matmul(h, w2) - a[3]));
    };
    auto [val, g] = value_and_grad<0, 1>(loss)(a[1], a[2]);
    return std::vector<array>{val, std::get<0>(g), std::get<1>(g)};
  };
  JitOptions o;
  o.name = "mlp_graph";
  o.cuda_graph = true;
  auto f = jit(step, o);
  array w1 = random::normal(random::key(5), {16, 32}) * 0.2f;
  array w2 = random::normal(random::key(6), {32, 4}) * 0.2f;
  for (int call = 0; call < 3; ++call) {
    array x = random::normal(random::key(10 + call), {64, 16});
    array y = random::normal(random::key(20 + call), {64, 4});
    auto want = step({x, w1, w2, y});
    std::vector<array> args;
    for (const array& a : {x, w1, w2, y}) args.push_back(to_device(a, Device::gpu()));
    auto got = f(args);
    for (size_t i = 0; i < want.size(); ++i)
      expect_close(got[i], want[i], 1e-4, fmt::format("mlp call {} output {}", call, i));
  }
  const JitStats s = f.stats();
  expect(s.cuda_graph == "captured", "mlp graph status: " + s.cuda_graph);
  expect(s.cuda_graph_nodes >= 3, fmt::format("mlp graph nodes: {}", s.cuda_graph_nodes));
}

}  // namespace

int main() {
  if (!gpu::is_available()) {
    std::printf("skipped: no GPU (%s)\n", gpu::unavailable_reason().c_str());
    return 77;
  }
  for (auto [name, f] :
       {std::pair{"match-free step", &matchfree_step}, std::pair{"range error", &range_error},
        std::pair{"match-free step as a CUDA graph", &matchfree_graph},
        std::pair{"gather as a CUDA graph", &gather_graph},
        std::pair{"graph fallback", &graph_fallback},
        std::pair{"MLP step as a CUDA graph", &mlp_graph}}) {
    try {
      f();
    } catch (const std::exception& e) {
      ++failures;
      std::printf("FAILED: %s: %s\n", name, e.what());
    }
  }
  std::printf("%s\n", failures ? "gpu_jit: FAILED" : "gpu_jit: all passed");
  return failures ? 1 : 0;
}

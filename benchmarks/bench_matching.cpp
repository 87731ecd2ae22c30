// The paper's Table 2 on our code: the cost of finding correspondences in a
// training step, Hungarian matching against the match-free (CAQS) loss, on
// the same inputs. B=8 images, N=300 queries, K=91 classes, 6 decoder layers,
// D=256; ground-truth counts per image drawn from a COCO-like distribution
// and padded to their bucket (criteria::gt_bucket). Rows:
//  (a) Hungarian matching as Deformable DETR does it: per decoder layer, the
//      cost matrix, its transfer to the host (on the CPU: evaluation and a
//      copy into a host vector), one assignment per image;
//  (b) the same with one transfer of all layers' cost matrices;
//  (c) the match-free loss, forward and backward, eager;
//  (d) the same under jit (first call = trace + compile + run, reported
//      apart; the row is the steady state);
//  (e) for context, the whole Hungarian criterion (matching + losses)
//      forward and backward, eager: the step that (c)/(d) replace;
//  (f) with --device gpu: (d) replayed as one CUDA graph per call.
// Prints a table in ms and as ratios to (a); --json FILE writes it. With
// --device gpu everything lives on the GPU, the transfers are device-to-host
// copies, and every timed call ends with a device synchronisation.
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/criteria/assignment.h>
#include <mfx/criteria/criteria_trees.h>
#include <mfx/jit.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench_utils.h"

using namespace mfx;
using namespace mfx::criteria;

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// COCO train2017 has 7.3 boxes per image on average with a long tail (a few
// images hold 50+). A negative binomial with r = 2 successes and p = 2/9
// (mean 7, sd 5.6; std::negative_binomial_distribution), clipped to [1, 50],
// gives that shape.
std::vector<int64_t> coco_like_counts(int64_t B, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::negative_binomial_distribution<int> nb(2, 2.0 / 9.0);
  std::vector<int64_t> counts;
  for (int64_t b = 0; b < B; ++b) counts.push_back(std::clamp<int64_t>(nb(rng), 1, 50));
  return counts;
}

// Random ground truths: labels in [0, K), boxes with centres in [0.1, 0.9]
// and sides in [0.02, 0.4].
Targets make_targets(const array& key, const std::vector<int64_t>& counts, int64_t K) {
  std::vector<array> labels, boxes;
  int64_t max_count = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    const int64_t m = counts[b];
    max_count = std::max(max_count, m);
    array k = random::fold_in(key, 100 + b);
    labels.push_back(random::randint(random::fold_in(k, 0), 0, K, {m}));
    array centre = random::uniform(random::fold_in(k, 1), {m, 2}, 0.1, 0.9);
    array side = random::uniform(random::fold_in(k, 2), {m, 2}, 0.02, 0.4);
    boxes.push_back(concatenate({centre, side}, 1));
  }
  Targets t = pad_targets(labels, boxes, gt_bucket(max_count));
  eval({t.labels, t.boxes, t.mask});
  return t;
}

// Solves image b's real rows of one layer's host copy [B, M, N] (real rows
// are the prefix, as pad_targets makes them). Returns the total cost so the
// work stays observable.
double solve_images(const double* cost, const std::vector<int64_t>& counts, int64_t M, int64_t N) {
  double total = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    total += linear_sum_assignment(cost + b * M * N, counts[b], N).cost;
  }
  return total;
}

// Where the time of rows (a) and (b) goes: cost evaluation, host copy, solves.
struct Parts {
  double cost_ms = 0, transfer_ms = 0, solve_ms = 0;
};

struct Row {
  std::string id, name;
  double ms = 0;
  std::optional<Parts> parts;
};

double ms_between(clock_type::time_point t0, clock_type::time_point t1) {
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

// Median of each part over `runs` calls.
Parts median_parts(const std::function<Parts()>& f, int runs = 15) {
  std::vector<double> c, t, s;
  for (int i = 0; i < runs; ++i) {
    Parts p = f();
    c.push_back(p.cost_ms);
    t.push_back(p.transfer_ms);
    s.push_back(p.solve_ms);
  }
  auto median = [](std::vector<double>& v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  return {median(c), median(t), median(s)};
}

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path, device_spec = "cpu";
  int layers = 6;
  int64_t B = 8, N = 300, K = 91, D = 256;
  uint64_t seed = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::stoull(argv[++i]);
    } else if (a == "--device" && i + 1 < argc) {
      device_spec = argv[++i];
    } else if (a == "--quick") {
      layers = 2, B = 2, N = 100;
    } else {
      fmt::print(stderr, "usage: {} [--json FILE] [--seed N] [--device cpu|gpu|gpu:N] [--quick]\n",
                 argv[0]);
      return 2;
    }
  }
  const std::optional<bench::BenchDevice> dev = bench::use_device(device_spec);
  if (!dev) return 0;
  // A cold first jit call: compile instead of loading kernels from disk
  // (unless the caller chose a cache directory).
  const bool cold = std::getenv("MFX_CACHE_DIR") == nullptr;
  if (cold) setenv("MFX_CACHE_DIR", "off", 1);

  array key = random::key(seed);
  DecoderOutputs outs = bench::random_decoder_outputs(key, layers, B, N, K, D);
  const std::vector<int64_t> counts = coco_like_counts(B, seed);
  const Targets t = make_targets(key, counts, K);
  const int64_t M = t.labels.shape(1);
  const CostWeights w;

  // (a) per layer: cost, transfer, per-image solve.
  double sink = 0;
  auto hungarian_per_layer = [&] {
    Parts p;
    for (int l = 0; l < layers; ++l) {
      auto t0 = clock_type::now();
      array c = matching_cost(outs.logits[l], outs.boxes[l], t, w);
      c.eval();
      dev->sync();
      auto t1 = clock_type::now();
      std::vector<double> host = c.to_vector<double>();
      auto t2 = clock_type::now();
      sink += solve_images(host.data(), counts, M, N);
      p.cost_ms += ms_between(t0, t1);
      p.transfer_ms += ms_between(t1, t2);
      p.solve_ms += ms_since(t2);
    }
    return p;
  };
  // (b) all layers' costs evaluated and copied at once, then the solves.
  auto hungarian_batched = [&] {
    auto t0 = clock_type::now();
    std::vector<array> costs;
    for (int l = 0; l < layers; ++l) {
      costs.push_back(matching_cost(outs.logits[l], outs.boxes[l], t, w));
    }
    array all = stack(costs, 0);  // [L, B, M, N]
    all.eval();
    dev->sync();
    auto t1 = clock_type::now();
    std::vector<double> host = all.to_vector<double>();
    auto t2 = clock_type::now();
    for (int l = 0; l < layers; ++l)
      sink += solve_images(host.data() + l * B * M * N, counts, M, N);
    return Parts{ms_between(t0, t1), ms_between(t1, t2), ms_since(t2)};
  };

  // (c), (d): the match-free loss with gradients for the probe and the
  // decoder outputs, as in a training step.
  Tree probe = init_probe(random::fold_in(key, 7), K, D);
  eval(probe.leaves());
  Tree outs_tree = outputs_tree(outs);
  Tree targets{{"labels", t.labels}, {"boxes", t.boxes}, {"mask", t.mask}};
  auto step = matchfree_loss_and_grads(layers);
  auto jstep = jit_tree(step, {.name = "matchfree_step"});
  auto jstep_graph = jit_tree(step, {.name = "matchfree_step_graph", .cuda_graph = true});
  auto run_step = [&](const auto& f) {
    auto [loss, gp, go] = f(probe, outs_tree, targets);
    std::vector<array> all{loss};
    for (auto& x : gp.leaves()) all.push_back(x);
    for (auto& x : go.leaves()) all.push_back(x);
    eval(all);
    dev->sync();
  };
  // (e) for context: the whole Hungarian criterion (matching + losses),
  // forward and backward, as the baseline training step runs it.
  auto hungarian_loss_step = [&] {
    auto loss = [&](const Tree& o) {
      return hungarian_criterion(outputs_from(o, layers), t, {}).loss;
    };
    auto [l, g] = value_and_grad(loss)(outs_tree);
    std::vector<array> all{l};
    for (auto& x : g.leaves()) all.push_back(x);
    eval(all);
    dev->sync();
  };

  // Check before timing: the solves here reach the optimum of the criterion's
  // own matching (hungarian_match) on layer 0.
  {
    auto ref = hungarian_match(outs.logits[0], outs.boxes[0], t, w);
    array c0 = matching_cost(outs.logits[0], outs.boxes[0], t, w);
    std::vector<double> host = c0.to_vector<double>();
    double total = 0, ref_total = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      total += linear_sum_assignment(host.data() + i * M * N, counts[i], N).cost;
      for (size_t p = 0; p < ref[i].gts.size(); ++p) {
        ref_total += host[(i * M + ref[i].gts[p]) * N + ref[i].queries[p]];
      }
    }
    if (std::abs(total - ref_total) > 1e-6 * std::max(1.0, std::abs(total))) {
      fmt::print(stderr, "assignment check failed: {} vs {}\n", total, ref_total);
      return 1;
    }
  }

  Row a{"a", "Hungarian matching, per-layer transfer (Deformable DETR)"};
  a.ms = bench::median_ms([&] { hungarian_per_layer(); });
  a.parts = median_parts(hungarian_per_layer);
  Row b{"b", "Hungarian matching, one batched transfer"};
  b.ms = bench::median_ms([&] { hungarian_batched(); });
  b.parts = median_parts(hungarian_batched);
  Row c{"c", "match-free loss fwd+bwd, eager"};
  c.ms = bench::median_ms([&] { run_step(step); });
  auto t0 = clock_type::now();
  run_step(jstep);
  const double jit_first_ms = ms_since(t0);
  Row d{"d", "match-free loss fwd+bwd, jit (steady state)"};
  d.ms = bench::median_ms([&] { run_step(jstep); });
  Row e{"e", "context: Hungarian criterion fwd+bwd, eager (matching + losses)"};
  e.ms = bench::median_ms(hungarian_loss_step);
  std::vector<Row> rows{a, b, c, d, e};
  if (dev->gpu()) {
    run_step(jstep_graph);  // steps (compile), then median_ms captures and replays
    Row f{"f", "match-free loss fwd+bwd, jit as a CUDA graph"};
    f.ms = bench::median_ms([&] { run_step(jstep_graph); });
    rows.push_back(f);
  }

  std::string counts_str;
  int64_t total_gts = 0;
  for (auto n : counts) {
    counts_str += (counts_str.empty() ? "" : ", ") + std::to_string(n);
    total_gts += n;
  }
  fmt::print(
      "matching vs match-free on {}: {} decoder layers, B={} N={} K={} D={}; GTs per image [{}] "
      "({} in all, padded to M={})\n\n",
      dev->device.str(), layers, B, N, K, D, counts_str, total_gts, M);
  fmt::print("| row | method | ms | vs (a) | cost ms | transfer ms | solve ms |\n");
  fmt::print("|---|---|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    auto part = [&](double Parts::*field, int digits) {
      return r.parts ? fmt::format("{:.{}f}", (*r.parts).*field, digits) : std::string();
    };
    fmt::print("| ({}) | {} | {:.2f} | {:.2f} | {} | {} | {} |\n", r.id, r.name, r.ms, r.ms / a.ms,
               part(&Parts::cost_ms, 2), part(&Parts::transfer_ms, 3), part(&Parts::solve_ms, 2));
  }
  fmt::print("\njit first call (trace + compile + run{}): {:.0f} ms\n",
             cold ? ", kernel disk cache off" : ", MFX_CACHE_DIR as set", jit_first_ms);
  if (sink == -1.0) fmt::print("\n");  // keeps the solved costs observable

  if (!json_path.empty()) {
    nlohmann::json rows_json = nlohmann::json::array();
    for (const Row& r : rows) {
      nlohmann::json j{
          {"row", r.id}, {"method", r.name}, {"ms", r.ms}, {"ratio_to_a", r.ms / a.ms}};
      if (r.parts) {
        j["cost_ms"] = r.parts->cost_ms;
        j["transfer_ms"] = r.parts->transfer_ms;
        j["solve_ms"] = r.parts->solve_ms;
      }
      rows_json.push_back(j);
    }
    nlohmann::json out{{"device", dev->device.str()},
                       {"layers", layers},
                       {"B", B},
                       {"N", N},
                       {"K", K},
                       {"D", D},
                       {"M", M},
                       {"gt_counts", counts},
                       {"rows", rows_json},
                       {"jit_first_call_ms", jit_first_ms},
                       {"jit_cold", cold}};
    std::ofstream f(json_path);
    f << out.dump(2) << "\n";
    if (!f) {
      fmt::print(stderr, "cannot write {}\n", json_path);
      return 1;
    }
  }
  return 0;
}

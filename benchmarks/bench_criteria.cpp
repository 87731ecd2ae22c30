// The match-free (CAQS) loss and the Hungarian criterion at the paper's
// size: 6 decoder layers, B=8 images, N=300 queries, K=91 classes, D=256,
// GTs padded to a bucket of 32. Times eager and jitted (loss + gradients)
// in one process, reports kernel launches per call by kind, and writes the
// fusion report of the jitted match-free step (--report DIR, default
// bench_criteria_report/). --json FILE writes the table. --device gpu runs
// it on a GPU, adds the jitted step replayed as a CUDA graph, and times
// each call up to a device synchronisation.
//
// For a peer framework (benchmarks/peers/run_peers.py): the JSON holds the
// exact workload (shapes, ground-truth counts, weights); --inputs FILE
// writes the float32 inputs (decoder outputs, probe, targets) as
// safetensors together with both losses and all their gradients recomputed
// in float64 on those inputs, for a numerical check of the peer; --peer
// times only the eager, jitted and Hungarian steps (no reports), so that
// the runner can interleave whole runs with the peer's. --rounds R times
// the jitted step R times (alternating with the unfused plan; default 12).
// --n N and --m M change the queries and the GT slots (image b has
// min(5 + 3b mod 25, M) GTs), for sweeps over sizes.
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/criteria/criteria_trees.h>
#include <mfx/io.h>
#include <mfx/jit.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "bench_utils.h"

using namespace mfx;
using namespace mfx::criteria;

using bench::median_ms;

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path, report_dir = "bench_criteria_report", device_spec = "cpu";
  std::string inputs_path;
  bool peer = false;
  int layers = 6, B = 8, N = 300, K = 91, D = 256, M = 32, rounds = 12;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--inputs" && i + 1 < argc) inputs_path = argv[++i];
    if (a == "--peer") peer = true;
    if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::stoi(argv[++i]));
    if (a == "--json" && i + 1 < argc) json_path = argv[++i];
    if (a == "--report" && i + 1 < argc) report_dir = argv[++i];
    if (a == "--device" && i + 1 < argc) device_spec = argv[++i];
    if (a == "--quick") layers = 2, B = 2, N = 100;
    if (a == "--n" && i + 1 < argc) N = std::stoi(argv[++i]);
    if (a == "--m" && i + 1 < argc) M = std::stoi(argv[++i]);
  }
  if (N < 1 || M < 1) {
    fmt::print(stderr, "bench_criteria: --n (queries) and --m (GT slots) must be >= 1\n");
    return 2;
  }
  const std::optional<bench::BenchDevice> dev = bench::use_device(device_spec);
  if (!dev) return 0;
  array key = random::key(0);
  auto rnd = [&](Shape s, int i) {
    array a = random::normal(random::fold_in(key, i), s);
    a.eval();
    return a;
  };
  DecoderOutputs o = bench::random_decoder_outputs(key, layers, B, N, K, D);
  std::vector<array> labels, boxes;
  std::vector<int> gt_counts;
  for (int b = 0; b < B; ++b) {
    int m = std::min(5 + 3 * b % 25, M);  // every image's GTs fit the M slots
    gt_counts.push_back(m);
    labels.push_back(random::randint(random::fold_in(key, 100 + b), 0, K, {m}));
    boxes.push_back(sigmoid(rnd({m, 4}, 200 + b)) * 0.5f + 0.25f);
  }
  Targets t = pad_targets(labels, boxes, M);
  Tree targets{{"labels", t.labels}, {"boxes", t.boxes}, {"mask", t.mask}};
  Tree probe = init_probe(random::fold_in(key, 7), K, D);
  Tree outs = outputs_tree(o);

  auto step = matchfree_loss_and_grads(layers);
  auto jstep = jit_tree(step, {.name = "matchfree_step"});
  // The same without block fusion (kernels per batch element), for the ratio.
  auto jstep_plain = jit_tree(step, {.name = "matchfree_step_plain", .block_fusion = false});
  // On a GPU: the same plan replayed as one CUDA graph per call.
  auto jstep_graph = jit_tree(step, {.name = "matchfree_step_graph", .cuda_graph = true});
  auto run_with = [&](auto& f) {
    auto [l, gp, go] = f(probe, outs, targets);
    std::vector<array> all{l};
    for (auto& x : gp.leaves()) all.push_back(x);
    for (auto& x : go.leaves()) all.push_back(x);
    eval(all);
    dev->sync();
  };
  auto run_eager = [&] { run_with(step); };
  auto run_jit = [&] { run_with(jstep); };
  auto run_plain = [&] { run_with(jstep_plain); };
  auto hungarian = [&] {
    auto loss = [&](const Tree& ot) {
      return hungarian_criterion(outputs_from(ot, layers), t, {}).loss;
    };
    auto [l, g] = value_and_grad(loss)(outs);
    std::vector<array> all{l};
    for (auto& x : g.leaves()) all.push_back(x);
    eval(all);
    dev->sync();
  };
  // The workload, exactly, so that a peer can rebuild it.
  const MatchFreeConfig mf_cfg;
  const HungarianConfig hu_cfg;
  nlohmann::json workload{
      {"layers", layers},
      {"B", B},
      {"N", N},
      {"K", K},
      {"D", D},
      {"M_bucket", M},
      {"gt_counts", gt_counts},
      {"probe_width", probe.at("w_q").shape(0)},
      {"dtype", "float32"},
      {"variant", matchfree_variant(mf_cfg)},
      {"gradients", "loss w.r.t. every decoder output (logits, boxes, hidden) and the probe "
                    "(match-free); w.r.t. the decoder outputs (Hungarian)"}};
  bench::add_criteria_settings(workload, mf_cfg, hu_cfg, mf_cfg.cost);

  if (!inputs_path.empty()) {
    // The timed float32 inputs, and both losses with their gradients
    // recomputed in float64 on them (the peer's numerical reference).
    auto cast = [](const Tree& t, Dtype d) {
      std::vector<array> l;
      for (const auto& x : t.leaves()) l.push_back(astype(x, d));
      return t.unflatten(l);
    };
    const Tree probe64 = cast(probe, float64), outs64 = cast(outs, float64);
    const Tree targets64{{"labels", t.labels}, {"boxes", astype(t.boxes, float64)}, {"mask", t.mask}};
    const Targets t64{t.labels, astype(t.boxes, float64), t.mask};
    std::map<std::string, array> file;
    for (const auto& [k, v] : probe.flatten()) file["probe." + k] = v;
    for (const auto& [k, v] : outs.flatten()) file["outputs." + k] = v;
    file["targets.labels"] = t.labels;
    file["targets.boxes"] = t.boxes;
    file["targets.mask"] = t.mask;
    auto [l32, gp32, go32] = step(probe, outs, targets);
    file["f32.matchfree.loss"] = l32;
    auto [l64, gp64, go64] = step(probe64, outs64, targets64);
    file["f64.matchfree.loss"] = l64;
    for (const auto& [k, v] : gp64.flatten()) file["f64.matchfree.grad_probe." + k] = v;
    for (const auto& [k, v] : go64.flatten()) {
      if (k.rfind("hidden_", 0) != 0) file["f64.matchfree.grad_outputs." + k] = v;
    }
    auto hungarian_of = [&](const Targets& tt) {
      return [&, tt](const Tree& ot) {
        return hungarian_criterion(outputs_from(ot, layers), tt, hu_cfg).loss;
      };
    };
    file["f32.hungarian.loss"] = value_and_grad(hungarian_of(t))(outs).first;
    auto [h64, gh64] = value_and_grad(hungarian_of(t64))(outs64);
    file["f64.hungarian.loss"] = h64;
    for (const auto& [k, v] : gh64.flatten()) {
      if (k.rfind("hidden_", 0) != 0) file["f64.hungarian.grad_outputs." + k] = v;
    }
    save_safetensors(inputs_path, file, {{"workload", workload.dump()}});
    fmt::print("inputs and float64 reference values written to {}\n", inputs_path);
  }

  double te = median_ms(run_eager), th = median_ms(hungarian);
  if (peer) {
    // Timing rows only, each a median, for the peer comparison.
    const double tj = median_ms(run_jit);
    fmt::print("match-free loss + gradients, {} layers, B={} N={} K={} D={} M={}: eager {:.1f} ms, "
               "jit {:.1f} ms; Hungarian criterion {:.1f} ms\n",
               layers, B, N, K, D, M, te, tj, th);
    if (!json_path.empty()) {
      const nlohmann::json j{{"device", dev->device.str()}, {"workload", workload},
                             {"eager_ms", te},               {"jit_ms", tj},
                             {"hungarian_ms", th},           {"timing", "median of >= 1 s"}};
      if (!bench::write_text(json_path, j.dump(2) + "\n")) return 1;
    }
    return 0;
  }
  // The two jit plans alternate, so machine noise hits both alike.
  auto [tj, tp] = bench::interleaved_min_ms(run_jit, run_plain, rounds);
  // Warm-up, capture, then replays (median_ms warms up once more).
  double tg = 0;
  if (dev->gpu()) {
    run_with(jstep_graph);
    tg = median_ms([&] { run_with(jstep_graph); });
  }

  // The jitted step's reports: launches by kind. The JitFunction inside
  // jit_tree is not exposed; trace the same step through jit() over flat
  // leaves. The GPU plan runs here too (kernels compiled for the CPU), so
  // its results are checked against eager.
  run_jit();
  auto flat_fn = [&](const std::vector<array>& leaves) {
    size_t pos = 0;
    auto like = std::make_tuple(probe, outs, targets);
    auto args = mfx::detail::rebuild_from(like, leaves, pos);
    auto r = std::apply(step, args);
    std::vector<array> flat;
    std::string s;
    mfx::detail::flatten_into(r, flat, s);
    return flat;
  };
  std::vector<array> leaves;
  std::string s;
  mfx::detail::flatten_into(std::make_tuple(probe, outs, targets), leaves, s);
  const std::vector<array> want = flat_fn(leaves);
  eval(want);
  struct Launches {
    int fused = 0, library = 0, launches = 0;
    std::map<std::string, int> by_name;
    double max_rel_diff = 0;           // against eager, relative to each output's largest |value|
    std::vector<std::string> kernels;  // fused kernels: name, blocks, ops, outputs
  };
  auto report = [&](bool gpu, const std::string& dir) {
    auto f = jit(flat_fn, {.name = "matchfree_step", .plan_for_gpu = gpu});
    auto got = f(leaves);
    eval(got);
    std::filesystem::create_directories(dir);
    f.write_report(dir, gpu);
    Launches l;
    l.launches = f.stats().kernels;
    for (size_t i = 0; i < got.size(); ++i) {
      double scale = max(abs(astype(want[i], float64))).item<double>();
      double diff = max(abs(astype(got[i], float64) - astype(want[i], float64))).item<double>();
      // Outputs that are zero up to rounding (the gradient of the
      // shift-invariant softmax's bias) count against 1e-6, not themselves.
      l.max_rel_diff = std::max(l.max_rel_diff, diff / std::max(scale, 1e-6));
    }
    // The written report: with gpu it carries the PTX launch configuration.
    const auto j = nlohmann::json::parse(std::ifstream(dir + "/report.json"));
    for (auto& k : j["kernels"]) {
      if (k["kind"] == "view") continue;
      if (k["kind"] == "fused") {
        ++l.fused;
        std::string outs;
        for (auto& o : k["outputs"]) {
          if (!outs.empty()) outs += " ";
          outs += shape_str(o["shape"].get<Shape>());
          if (outs.size() > 60) {
            outs += " ...";
            break;
          }
        }
        std::string blocks;
        if (k.contains("ptx") && k["ptx"]["sm_90"].value("ok", false)) {
          blocks = fmt::format("{} blocks x {} threads, {} B shared, ",
                               k["ptx"]["sm_90"]["grid_blocks"].get<int64_t>(),
                               k["ptx"]["sm_90"]["block_threads"].get<int>(),
                               k["ptx"]["sm_90"]["shared_bytes"].get<int64_t>());
        }
        l.kernels.push_back(fmt::format("{}: {}{} ops -> {}", k["name"].get<std::string>(), blocks,
                                        k["source_ops"].size(), outs));
      } else {
        ++l.library;
        l.by_name[k["name"].get<std::string>()]++;
      }
    }
    return l;
  };
  // On a GPU the arrays decide the plan: only the GPU plan runs there.
  const Launches cpu_plan = dev->gpu() ? Launches{} : report(false, report_dir);
  const Launches gpu_plan = report(true, report_dir + "_gpu");
  JitStats graph_stats;
  if (dev->gpu()) {
    auto g = jit(flat_fn, {.name = "matchfree_step_graph", .cuda_graph = true});
    for (int i = 0; i < 3; ++i) eval(g(leaves));  // run, capture, replay
    graph_stats = g.stats();
  }
  fmt::print("match-free loss + gradients, {} layers, B={} N={} K={} D={} M={}, on {}\n", layers,
             B, N, K, D, M, dev->device.str());
  bench::print_blas_note();
  fmt::print(
      "  eager {:.1f} ms, jit {:.1f} ms (eager/jit {:.2f}); Hungarian (eager, host "
      "matching) {:.1f} ms\n",
      te, tj, te / tj, th);
  fmt::print("  jit without block fusion {:.1f} ms (block fusion speed-up {:.2f})\n", tp, tp / tj);
  auto print_plan = [](const char* what, const Launches& l, const std::string& dir) {
    fmt::print("  {}: {} fused kernels + {} library calls:", what, l.fused, l.library);
    for (auto& [name, n] : l.by_name) fmt::print(" {}x{}", n, name);
    fmt::print("\n    results vs eager: max relative difference {:.1e}; report {}/summary.txt\n",
               l.max_rel_diff, dir);
  };
  if (dev->gpu()) {
    fmt::print("  jit as a CUDA graph {:.1f} ms (step by step / graph {:.2f}): {} nodes, {}\n", tg,
               tj / tg, graph_stats.cuda_graph_nodes, graph_stats.cuda_graph);
    print_plan("GPU plan (run on the GPU)", gpu_plan, report_dir + "_gpu");
  } else {
    print_plan("CPU plan (run here)", cpu_plan, report_dir);
    print_plan("GPU plan (PTX for sm_80/sm_90, run here on the CPU)", gpu_plan,
               report_dir + "_gpu");
  }
  fmt::print("  launches per call: {} (CPU plan), {} (GPU plan)\n", cpu_plan.launches,
             gpu_plan.launches);
  for (const auto& k : gpu_plan.kernels) fmt::print("    {}\n", k);
  if (!json_path.empty()) {
    nlohmann::json j{{"device", dev->device.str()},
                     {"workload", workload},
                     {"blas", bench::blas_info()},
                     {"timing",
                      "eager and Hungarian: median of >= 1 s; jit: best of --rounds, alternating "
                      "with the plan without block fusion"},
                     {"eager_ms", te},
                     {"jit_ms", tj},
                     {"jit_no_block_fusion_ms", tp},
                     {"hungarian_ms", th},
                     {"fused_kernels", cpu_plan.fused},
                     {"library_calls", cpu_plan.by_name},
                     {"launches_per_call", cpu_plan.launches},
                     {"gpu_plan_fused_kernels", gpu_plan.fused},
                     {"gpu_plan_library_calls", gpu_plan.by_name},
                     {"gpu_plan_launches_per_call", gpu_plan.launches},
                     {"gpu_plan_max_rel_diff", gpu_plan.max_rel_diff}};
    if (dev->gpu()) {
      j["cuda_graph_ms"] = tg;
      j["cuda_graph_nodes"] = graph_stats.cuda_graph_nodes;
      j["cuda_graph"] = graph_stats.cuda_graph;
    }
    if (!bench::write_text(json_path, j.dump(2) + "\n")) return 1;
  }
}

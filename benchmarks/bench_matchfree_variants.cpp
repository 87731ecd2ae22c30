// The match-free loss + gradients (probe and decoder outputs) with each probe
// variant: the paper's scaled-softmax probe, cosine logits, cosine logits with
// Sinkhorn attention, and that with greedy one-query-per-GT selection (the
// last three are extensions beyond the paper). Per variant: eager and jitted
// (steady-state) time, launches per call and fused kernels of the jitted
// step (and launches of its GPU plan, compiled and run here on the CPU), and
// the reasons that split its kernels. The question it answers: do
// the Sinkhorn rounds of one image stay inside one (block-fused) kernel, and
// what do they cost against the softmax?
//   bench_matchfree_variants [--quick] [--json FILE] [--iters T]
// --quick: 2 layers, B=2, N=100 (default: the paper's 6 layers, B=8, N=300,
// K=91, D=256, GTs padded to M=32).
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/criteria/criteria_trees.h>
#include <mfx/jit.h>

#include <map>
#include <nlohmann/json.hpp>

#include "bench_utils.h"

using namespace mfx;
using namespace mfx::criteria;

namespace {

struct Variant {
  std::string name;
  MatchFreeConfig cfg;
};

struct Row {
  std::string name;
  double eager_ms = 0, jit_ms = 0, compile_ms = 0;
  int launches = 0, fused = 0, gpu_launches = 0;
  std::map<std::string, int> split_reasons;  // materialised values by reason
};

}  // namespace

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path;
  int layers = 6, B = 8, N = 300, K = 91, D = 256, M = 32, iters = 30;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--iters" && i + 1 < argc) {
      iters = std::stoi(argv[++i]);
    } else if (a == "--quick") {
      layers = 2, B = 2, N = 100;
    } else {
      fmt::print(stderr, "usage: {} [--quick] [--json FILE] [--iters T]\n", argv[0]);
      return 2;
    }
  }
  // Compile times are cold (no kernel disk cache) unless the caller set one.
  if (!std::getenv("MFX_CACHE_DIR")) setenv("MFX_CACHE_DIR", "off", 1);
  array key = random::key(0);
  DecoderOutputs o = bench::random_decoder_outputs(key, layers, B, N, K, D);
  std::vector<array> labels, boxes;
  for (int b = 0; b < B; ++b) {
    const int m = 5 + 3 * b % 25;
    labels.push_back(random::randint(random::fold_in(key, 100 + b), 0, K, {m}));
    boxes.push_back(sigmoid(random::normal(random::fold_in(key, 200 + b), {m, 4})) * 0.5f + 0.25f);
  }
  const Targets t = pad_targets(labels, boxes, M);
  const Tree targets{{"labels", t.labels}, {"boxes", t.boxes}, {"mask", t.mask}};
  const Tree probe = init_probe(random::fold_in(key, 7), K, D);
  const Tree outs = outputs_tree(o);
  std::vector<array> leaves;
  std::string structure;
  mfx::detail::flatten_into(std::make_tuple(probe, outs, targets), leaves, structure);
  eval(leaves);

  std::vector<Variant> variants(4);
  variants[0].name = "paper (scaled logits, softmax)";
  variants[1].name = "cosine logits";
  variants[1].cfg.probe_logits = MatchFreeConfig::ProbeLogits::Cosine;
  variants[2].name = fmt::format("cosine + Sinkhorn ({} rounds)", iters);
  variants[2].cfg = variants[1].cfg;
  variants[2].cfg.attention = MatchFreeConfig::Attention::Sinkhorn;
  variants[2].cfg.sinkhorn_iters = iters;
  variants[3].name = "cosine + Sinkhorn + greedy";
  variants[3].cfg = variants[2].cfg;
  variants[3].cfg.selection = MatchFreeConfig::Selection::Greedy;

  std::vector<Row> rows;
  for (const Variant& v : variants) {
    auto step = matchfree_loss_and_grads(layers, v.cfg);
    auto flat = [&](const std::vector<array>& in) {
      size_t pos = 0;
      auto args = mfx::detail::rebuild_from(std::make_tuple(probe, outs, targets), in, pos);
      std::vector<array> out;
      std::string s;
      mfx::detail::flatten_into(std::apply(step, args), out, s);
      return out;
    };
    Row r{v.name};
    r.eager_ms = bench::median_ms([&] { eval(flat(leaves)); });
    auto f = jit(flat, {.name = "matchfree_variant"});
    const auto t0 = std::chrono::steady_clock::now();
    eval(f(leaves));
    r.compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                       .count();
    r.jit_ms = bench::median_ms([&] { eval(f(leaves)); });
    r.launches = f.stats().kernels;
    const auto report = nlohmann::json::parse(f.report_json());
    for (const auto& k : report["kernels"]) r.fused += k["kind"] == "fused";
    for (const auto& m : report["materialized"]) ++r.split_reasons[m["reason"].get<std::string>()];
    // The GPU plan (block fusion bounded by shared memory), run here on the CPU.
    auto g = jit(flat, {.name = "matchfree_variant_gpu_plan", .plan_for_gpu = true});
    eval(g(leaves));
    r.gpu_launches = g.stats().kernels;
    rows.push_back(r);
  }

  fmt::print("match-free loss + gradients by probe variant: {} layers, B={} N={} K={} D={} M={}\n\n",
             layers, B, N, K, D, M);
  fmt::print("| variant | eager ms | jit ms | eager/jit | jit / paper jit | launches | fused | "
             "GPU plan launches | first call ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    fmt::print("| {} | {:.1f} | {:.1f} | {:.2f} | {:.2f} | {} | {} | {} | {:.0f} |\n", r.name,
               r.eager_ms, r.jit_ms, r.eager_ms / r.jit_ms, r.jit_ms / rows[0].jit_ms, r.launches,
               r.fused, r.gpu_launches, r.compile_ms);
  }
  fmt::print("\nvalues written between kernels, by reason:\n");
  for (const Row& r : rows) {
    std::string reasons;
    for (auto& [k, n] : r.split_reasons) reasons += fmt::format(" {} {}", k, n);
    fmt::print("  {}:{}\n", r.name, reasons);
  }
  if (!json_path.empty()) {
    nlohmann::json j = nlohmann::json::array();
    for (const Row& r : rows) {
      j.push_back({{"variant", r.name},
                   {"eager_ms", r.eager_ms},
                   {"jit_ms", r.jit_ms},
                   {"first_call_ms", r.compile_ms},
                   {"launches_per_call", r.launches},
                   {"fused_kernels", r.fused},
                   {"gpu_plan_launches_per_call", r.gpu_launches},
                   {"split_reasons", r.split_reasons}});
    }
    nlohmann::json out{{"layers", layers}, {"B", B}, {"N", N}, {"K", K},
                       {"D", D},           {"M", M}, {"rows", j}};
    if (!bench::write_text(json_path, out.dump(2) + "\n")) return 1;
  }
  return 0;
}

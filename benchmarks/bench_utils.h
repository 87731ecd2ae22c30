// Helpers shared by the benchmarks: a median timer and random decoder
// outputs at the paper's sizes.
#pragma once

#include <mfx/cpu.h>
#include <mfx/criteria/criteria.h>
#include <mfx/mfx.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mfx::bench {

/// The OpenBLAS kernel set in use ("core"), the fastest this CPU allows
/// ("best_for_cpu") and OPENBLAS_CORETYPE as the process found it: a
/// variable set in the environment overrides mfx's choice, and a set without
/// AVX-512 on a CPU with it runs products about half as fast.
inline nlohmann::json blas_info() {
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  return {{"core", cpu::blas_core()},
          {"best_for_cpu", cpu::best_blas_core()},
          {"OPENBLAS_CORETYPE", forced ? forced : ""}};
}

/// Prints the BLAS kernel set, and a warning when the environment holds it
/// below what the CPU supports.
inline void print_blas_note() {
  const std::string core = cpu::blas_core(), best = cpu::best_blas_core();
  const bool avx512 = core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
  if (best == "SkylakeX" && !avx512) {
    std::printf("BLAS: OpenBLAS kernels %s, as OPENBLAS_CORETYPE asks; this CPU has AVX-512 "
                "(unset the variable for about twice the matmul speed)\n",
                core.c_str());
  } else {
    std::printf("BLAS: OpenBLAS kernels %s\n", core.c_str());
  }
}

/// Median wall time in ms of `run` after one warm-up call, over at least
/// `min_iters` calls and `min_seconds` of timing (at most `max_iters` calls).
inline double median_ms(const std::function<void()>& run, int min_iters = 3,
                        double min_seconds = 1.0, int max_iters = 50) {
  using clock = std::chrono::steady_clock;
  run();
  std::vector<double> t;
  auto start = clock::now();
  while (static_cast<int>(t.size()) < min_iters ||
         std::chrono::duration<double>(clock::now() - start).count() < min_seconds) {
    auto t0 = clock::now();
    run();
    t.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    if (static_cast<int>(t.size()) >= max_iters) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

/// Writes `text` to `path` through a temporary file renamed over it, so a
/// table is never half-written; prints why and returns false on failure.
inline bool write_text(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out.flush()) {
      std::fprintf(stderr, "cannot write %s\n", path.c_str());
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::fprintf(stderr, "cannot write %s: %s\n", path.c_str(), ec.message().c_str());
  return !ec;
}

/// Best wall times in ms of `a` and `b` run alternately `rounds` times after
/// one warm-up call each (for ratios between two variants of one program).
inline std::pair<double, double> interleaved_min_ms(const std::function<void()>& a,
                                                    const std::function<void()>& b,
                                                    int rounds = 12) {
  using clock = std::chrono::steady_clock;
  auto once = [](const std::function<void()>& f) {
    auto t0 = clock::now();
    f();
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  };
  a();
  b();
  double ta = 1e300, tb = 1e300;
  for (int r = 0; r < rounds; ++r) {
    ta = std::min(ta, once(a));
    tb = std::min(tb, once(b));
  }
  return {ta, tb};
}

/// The device a benchmark runs on (--device cpu|gpu|gpu:N). On a GPU it is
/// the default device, so every array the benchmark makes lives there, and
/// sync() waits for the queued kernels: a timed call then includes them,
/// not only their launch.
struct BenchDevice {
  Device device = Device::cpu();
  bool gpu() const { return device.type == Device::Type::gpu; }
  void sync() const {
    if (gpu()) mfx::gpu::synchronize(device.index);
  }
};

/// Parses --device and makes it the default device. Without a working GPU
/// a GPU spec prints "skipped: no GPU (<why>)" (as bench_gpu and the GPU
/// tests do) and returns nothing: the benchmark then exits 0.
inline std::optional<BenchDevice> use_device(const std::string& spec) {
  if (spec.rfind("gpu", 0) == 0 && !mfx::gpu::is_available()) {
    std::printf("skipped: no GPU (%s)\n", mfx::gpu::unavailable_reason().c_str());
    return std::nullopt;
  }
  BenchDevice d{Device::parse(spec)};
  set_default_device(d.device);
  return d;
}

/// Evaluated random decoder outputs, `layers` x (logits [B, N, K] ~ 2 z - 3,
/// so most sigmoid probabilities are small as after training; boxes [B, N,
/// 4] = sigmoid(z); hidden [B, N, D] = z), z standard normal drawn from
/// fold_in(key, 10 + l), (20 + l), (30 + l).
inline criteria::DecoderOutputs random_decoder_outputs(const array& key, int layers, int64_t B,
                                                       int64_t N, int64_t K, int64_t D) {
  auto rnd = [&](Shape s, uint64_t i) { return random::normal(random::fold_in(key, i), s); };
  criteria::DecoderOutputs o;
  for (int l = 0; l < layers; ++l) {
    o.logits.push_back(rnd({B, N, K}, 10 + l) * 2.0f - 3.0f);
    o.boxes.push_back(sigmoid(rnd({B, N, 4}, 20 + l)));
    o.hidden.push_back(rnd({B, N, D}, 30 + l));
  }
  std::vector<array> all = o.logits;
  all.insert(all.end(), o.boxes.begin(), o.boxes.end());
  all.insert(all.end(), o.hidden.begin(), o.hidden.end());
  eval(all);
  return o;
}

/// The criteria's settings as a peer reads them (benchmarks/peers/
/// run_peers.py): "matchfree", "hungarian" and the matching "cost".
inline void add_criteria_settings(nlohmann::json& w, const criteria::MatchFreeConfig& mf,
                                  const criteria::HungarianConfig& hu,
                                  const criteria::CostWeights& cost) {
  w["matchfree"] = {{"rho", mf.rho},
                    {"eps", mf.eps},
                    {"alpha_w", mf.alpha_w},
                    {"beta_q", mf.beta_q},
                    {"w_ce", mf.w_ce},
                    {"w_bbox", mf.w_bbox},
                    {"w_giou", mf.w_giou},
                    {"probe_inputs_stop_gradient", mf.probe_inputs_stop_gradient}};
  w["hungarian"] = {{"w_ce", hu.w_ce}, {"w_bbox", hu.w_bbox}, {"w_giou", hu.w_giou}};
  w["cost"] = {{"cls", cost.cls},
               {"l1", cost.l1},
               {"giou", cost.giou},
               {"alpha", cost.alpha},
               {"gamma", cost.gamma}};
}

}  // namespace mfx::bench

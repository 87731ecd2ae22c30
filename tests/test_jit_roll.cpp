// Rolling repeated phases (compiler/kernel_roll.h): a kernel whose phases
// repeat on other buffers becomes one copy over a repetition axis, with the
// same results bit for bit; dependent repetitions stay as they are; a
// jitted function with one loss per layer compiles to the rolled kernel and
// equals eager.
#include <cmath>
#include <nlohmann/json.hpp>

#include "compiler/codegen.h"
#include "compiler/kernel_builder.h"
#include "compiler/kernel_hash.h"
#include "compiler/kernel_roll.h"
#include "grad_check.h"
#include "kernel_samples.h"
#include "mfx/jit.h"

using namespace mfx;
using namespace mfx::compiler;

namespace {

constexpr int64_t B = 3;

// Repetition r: local m_r[b] = max_i x_r[b, i]; y_r[b, i] = x_r[b, i] - m_r[b]
// (x_r = arg r, y_r = arg reps + r). With `chained`, repetition r > 0 reads
// y_{r-1} instead of x_r. A last phase stores sum_r m_r[b] to the last arg.
Kernel repeated_kernel(int reps, bool chained, int64_t N = 5) {
  Kernel k;
  k.name = "repeated";
  for (int r = 0; r < reps; ++r) k.args.push_back({float32, B * N});
  for (int r = 0; r < reps; ++r) k.args.push_back({float32, B * N, true});
  k.args.push_back({float32, B, true});
  k.grid = {B};
  for (int r = 0; r < reps; ++r) {
    const int in = chained && r > 0 ? reps + r - 1 : r;
    k.locals.push_back({float32, {}});
    for (Phase& ph : mfx::test::row_max_phases(in, reps + r, r, N)) k.phases.push_back(ph);
  }
  Phase last;
  PhaseBuilder l(last);
  int total = l.load_local(0, float32, {});
  for (int r = 1; r < reps; ++r) {
    total = l.binary(BinaryOp::Add, total, l.load_local(r, float32, {}));
  }
  l.store(2 * reps, l.grid_index(0), total);
  k.phases.push_back(last);
  return k;
}

// Repetition r: v = x_r[b, i] * s_r[0] (s_r a one-element arg, as the loss
// weights of the match-free step's layers), kept in a local and stored to
// y_r[b, i] = v + s_r[0]. Args: x_0.., s_0.., y_0...
Kernel scaled_kernel(int reps, int64_t n) {
  Kernel k;
  k.name = "scaled";
  for (int r = 0; r < reps; ++r) k.args.push_back({float32, B * n});
  for (int r = 0; r < reps; ++r) k.args.push_back({float32, 1});
  for (int r = 0; r < reps; ++r) k.args.push_back({float32, B * n, true});
  k.grid = {B};
  for (int r = 0; r < reps; ++r) {
    k.locals.push_back({float32, {n}});
    Phase map;
    map.domain = {n};
    PhaseBuilder m(map);
    int at = m.add(m.mul(m.grid_index(0), m.index(n)), m.domain_index(0));
    int scale = m.load(reps + r, float32, m.index(0));
    int v = m.binary(BinaryOp::Multiply, m.load(r, float32, at), scale);
    m.materialize(r, v);
    m.store(2 * reps + r, at, m.binary(BinaryOp::Add, v, scale));
    k.phases.push_back(map);
  }
  return k;
}

// Runs a CPU kernel on `inputs` and returns every output buffer.
std::vector<std::vector<float>> run(const Kernel& k, std::vector<std::vector<float>> inputs) {
  std::vector<std::vector<float>> bufs = std::move(inputs);
  for (const auto& a : k.args) {
    if (a.output) bufs.emplace_back(a.size, -1.0f);
  }
  std::vector<void*> ptrs;
  for (auto& b : bufs) ptrs.push_back(b.data());
  compile_cpu(k, {})->run(ptrs.data(), 0, k.grid_size());
  return bufs;
}

std::vector<std::vector<float>> inputs(int reps, int64_t N = 5) {
  std::vector<std::vector<float>> in;
  for (int r = 0; r < reps; ++r) {
    std::vector<float> x(B * N);
    for (int64_t i = 0; i < B * N; ++i) x[i] = std::sin(1.7f * i + 0.3f * r) * (r + 1);
    in.push_back(x);
  }
  return in;
}

}  // namespace

TEST_CASE("repeated phases roll into one copy with the same results", "[jit][roll]") {
  const int reps = 4;
  const Kernel k = repeated_kernel(reps, false);
  const Kernel rolled = roll_phases(k);
  validate(rolled);
  // Two phases over (reps, N), then the sum: 3 phases instead of 9.
  REQUIRE(rolled.phases.size() == 3);
  CHECK(rolled.phases[0].domain == std::vector<int64_t>{reps, 5});
  CHECK(rolled.phases[0].reduced_axes == std::vector<int>{1});
  CHECK(rolled.locals.size() == 1);
  CHECK(rolled.locals[0].shape == std::vector<int64_t>{reps});
  // Each load and store picks its repetition's buffer.
  const std::string listing = to_string(rolled);
  CHECK(listing.find("arg{0,1,2,3}") != std::string::npos);
  CHECK(listing.find("store arg{4,5,6,7}") != std::string::npos);
  // Bit for bit the unrolled kernel's outputs (same operations in the same
  // order within each repetition).
  CHECK(run(rolled, inputs(reps)) == run(k, inputs(reps)));
  // And the hash tells the two apart (the kernel cache must).
  CHECK(!(kernel_hash(rolled, Target::Cpu, {}) == kernel_hash(k, Target::Cpu, {})));
}

TEST_CASE("a rolled loop that reads one picked buffer and writes another vectorises",
          "[jit][roll]") {
  // LLVM keeps a select of memref descriptors whole, and alias analysis
  // cannot see through it: a loop reading one picked buffer and writing
  // another needed run-time overlap checks until the CPU back end selected
  // the descriptors' fields instead.
  const int reps = 4;
  const int64_t n = 256;
  const Kernel k = scaled_kernel(reps, n);
  const Kernel rolled = roll_phases(k);
  REQUIRE(rolled.phases.size() == 1);
  std::string ir;
  compile_cpu(rolled, {}, nullptr, &ir);
  INFO(ir);
  CHECK(ir.find("x float>") != std::string::npos);  // vector loads / stores of floats
  // ... with no run-time overlap check between the picked buffers (with the
  // descriptors selected whole, LLVM versioned this loop behind one, and
  // gave up on the larger loops of the match-free step).
  CHECK(ir.find("conflict") == std::string::npos);
  auto in = inputs(reps, n);
  for (int r = 0; r < reps; ++r) in.push_back({0.5f + r});
  CHECK(run(rolled, in) == run(k, in));
}

TEST_CASE("dependent repetitions are not rolled", "[jit][roll]") {
  // Repetition r reads what r - 1 stored: running them side by side would
  // read outputs before they are written.
  // (Their code is the same: whether a loaded buffer is an input or an
  // earlier output does not change it.)
  const Kernel k = repeated_kernel(3, true);
  CHECK(roll_phases(k).phases.size() == k.phases.size());
}

TEST_CASE("a rolled kernel lowers for the GPU too", "[jit][roll]") {
  // Rolling runs on CPU plans only, but the IR it writes is target independent.
  const Kernel rolled = roll_phases(repeated_kernel(3, false));
  REQUIRE(rolled.phases.size() == 3);
  PtxKernel ptx = compile_ptx(rolled, Target::Sm90, {});
  CHECK_NOTHROW(run_ptxas(ptx.ptx, Target::Sm90));
}

TEST_CASE("a jitted per-layer loss compiles to a rolled kernel and equals eager", "[jit][roll]") {
  // Six layers' outputs, each [B, Q, K], with the same per-image loss: the
  // shape of the match-free step's decoder layers.
  const int layers = 6;
  const int64_t batch = 8, q = 30, kk = 7;
  auto f = [&](const std::vector<array>& a) {
    array total = zeros({batch}, float32);
    for (int l = 0; l < layers; ++l) {
      array p = softmax(a[l], -1);
      array cost = sum(p * a[layers], {1, 2});
      total = total + cost + max(a[l], {1, 2});
    }
    return std::vector<array>{total};
  };
  std::vector<array> args;
  for (int l = 0; l <= layers; ++l) {
    args.push_back(random::normal(random::key(10 + l), {batch, q, kk}));
  }
  const auto want = f(args);
  JitFunction jf = jit(f, {.name = "per_layer_loss"});
  const auto got = jf(args);
  mfx::test::check_close(got[0], mfx::test::values(want[0]), want[0].shape(), 1e-5, 1e-5);
  // Some fused kernel runs phases over a leading axis of 6 repetitions.
  const auto report = nlohmann::json::parse(jf.report_json());
  int rolled_phases = 0;
  for (const auto& k : report["kernels"]) {
    if (k["kind"] != "fused") continue;
    for (const auto& ph : k["phases"]) {
      const auto domain = ph["domain"].get<std::vector<int64_t>>();
      rolled_phases += !domain.empty() && domain[0] == layers;
    }
  }
  INFO(jf.report_json());
  CHECK(rolled_phases > 0);
}

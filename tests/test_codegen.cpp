// Kernel IR -> MLIR -> CPU code and PTX: hand-built kernels run through the
// JIT and are compared with mfx's eager kernels; PTX is checked with ptxas.
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include "compiler/codegen.h"
#include "compiler/kernel_builder.h"
#include "kernel_samples.h"
#include "primitives/elementwise.h"
#include "test_utils.h"

using namespace mfx;
using namespace mfx::compiler;
using mfx::test::softmax_kernel;

namespace {

// A row-major host buffer holding one kernel argument.
struct Buf {
  Dtype dtype;
  std::vector<uint8_t> bytes;
  int64_t size() const { return static_cast<int64_t>(bytes.size() / size_of(dtype)); }
};

Buf from_array(const array& c) {
  c.eval();
  REQUIRE(c.flags().row_contiguous);
  REQUIRE(c.offset() == 0);
  Buf b{c.dtype(), std::vector<uint8_t>(c.nbytes())};
  std::memcpy(b.bytes.data(), c.raw_data(), c.nbytes());
  return b;
}
Buf empty_buf(Dtype dt, int64_t n) {
  return Buf{dt, std::vector<uint8_t>(n * size_of(dt))};
}
array to_array(const Buf& b, Shape shape) {
  return array(b.bytes.data(), shape, b.dtype);
}

void run_all(const CpuKernel& k, std::vector<Buf*> bufs, int64_t grid) {
  std::vector<void*> ptrs;
  for (auto* b : bufs) ptrs.push_back(b->bytes.data());
  // Two ranges, as a thread pool would split the grid.
  k.run(ptrs.data(), 0, grid / 2);
  k.run(ptrs.data(), grid / 2, grid);
}

// |got - want| within `ulps` units in the last place of dtype at want's
// magnitude (or below `atol`); NaN matches NaN, infinities match exactly.
bool close_ulps(double got, double want, Dtype dt, double ulps, double atol = 0) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  if (got == want) return true;
  int mant = dt == float16 ? 10 : dt == bfloat16 ? 7 : dt == float32 ? 23 : dt == float64 ? 52 : 0;
  if (mant == 0) return false;
  double scale = std::max(std::abs(want), dt == float64 ? 2.2e-308 : 1.2e-38);
  return std::abs(got - want) <= ulps * std::ldexp(scale, -mant) + atol;
}

void check_equal(const array& got, const array& want, Dtype dt, double ulps,
                 const std::string& what, double atol = 0) {
  auto g = got.to_vector<double>();
  auto w = want.to_vector<double>();
  REQUIRE(g.size() == w.size());
  int bad = 0;
  for (size_t i = 0; i < g.size() && bad < 5; ++i) {
    bool ok = is_floating(dt) ? close_ulps(g[i], w[i], dt, ulps, atol) : g[i] == w[i];
    if (!ok) {
      ++bad;
      FAIL_CHECK(what << " element " << i << ": got " << g[i] << " want " << w[i]);
    }
  }
}

// Test inputs with the awkward values each dtype has.
array test_values(Dtype dt, int64_t n, uint32_t seed, bool divisor = false) {
  std::mt19937 rng(seed);
  std::vector<double> v(n);
  std::normal_distribution<double> normal(0, 3);
  std::uniform_int_distribution<int> ints(-20, 20), u8(0, 255), coin(0, 1);
  for (int64_t i = 0; i < n; ++i) {
    if (dt == bool_)
      v[i] = coin(rng);
    else if (dt == uint8)
      v[i] = u8(rng);
    else if (!is_floating(dt))
      v[i] = ints(rng);
    else
      v[i] = i % 3 == 0 ? std::uniform_real_distribution<double>(-1.1, 1.1)(rng) : normal(rng);
  }
  if (is_floating(dt) && n >= 8) {
    const double inf = std::numeric_limits<double>::infinity();
    double specials[] = {0.0, -0.0, inf, -inf, NAN, 1.0, -1.0, 2.5};
    for (int i = 0; i < 8; ++i) v[(i * 7 + (divisor ? 3 : 0)) % n] = specials[i];
  }
  if (!is_floating(dt) && dt != bool_ && n >= 4) {
    v[divisor ? 1 : 2] = 0;
    if (is_signed(dt)) v[divisor ? 3 : 0] = -1;
    // INT_MIN / -1 and INT_MIN % -1 must not trap (eager wraps / gives 0).
    if (!divisor && dt == int32) v[3] = -2147483648.0;
    if (!divisor && dt == int64) v[3] = -9223372036854775808.0;
  }
  return array(v, {n}, dt);
}

// out_i = op(in[i]) for every op in `ops`: one kernel, one output per op.
Kernel unary_kernel(Dtype dt, int64_t n, const std::vector<UnaryOp>& ops) {
  Kernel k{"unary_ops", {{dt, n}}, {n}, {}, {Phase{}}};
  PhaseBuilder p(k.phases[0]);
  int i = p.grid_index(0);
  int x = p.load(0, dt, i);
  for (size_t j = 0; j < ops.size(); ++j) {
    int y = p.unary(ops[j], x);
    k.args.push_back({p.dtype_of(y), n, true});
    p.store(static_cast<int>(j) + 1, i, y);
  }
  return k;
}

Kernel binary_kernel(Dtype dt, int64_t n, const std::vector<BinaryOp>& ops) {
  Kernel k{"binary_ops", {{dt, n}, {dt, n}}, {n}, {}, {Phase{}}};
  PhaseBuilder p(k.phases[0]);
  int i = p.grid_index(0);
  int a = p.load(0, dt, i), b = p.load(1, dt, i);
  for (size_t j = 0; j < ops.size(); ++j) {
    int y = p.binary(ops[j], a, b);
    k.args.push_back({p.dtype_of(y), n, true});
    p.store(static_cast<int>(j) + 2, i, y);
  }
  return k;
}

const UnaryOp kUnaryOps[] = {
    UnaryOp::Negative,   UnaryOp::Abs,     UnaryOp::Sign,       UnaryOp::Exp,    UnaryOp::Log,
    UnaryOp::Log1p,      UnaryOp::Expm1,   UnaryOp::Sqrt,       UnaryOp::Rsqrt,  UnaryOp::Square,
    UnaryOp::Reciprocal, UnaryOp::Sin,     UnaryOp::Cos,        UnaryOp::Tan,    UnaryOp::Arctan,
    UnaryOp::Tanh,       UnaryOp::Sigmoid, UnaryOp::Erf,        UnaryOp::Erfinv, UnaryOp::Floor,
    UnaryOp::Ceil,       UnaryOp::Round,   UnaryOp::LogicalNot, UnaryOp::IsNan,  UnaryOp::IsInf,
    UnaryOp::IsFinite};
const BinaryOp kBinaryOps[] = {
    BinaryOp::Add,         BinaryOp::Subtract,  BinaryOp::Multiply,  BinaryOp::Divide,
    BinaryOp::FloorDivide, BinaryOp::Remainder, BinaryOp::Power,     BinaryOp::Maximum,
    BinaryOp::Minimum,     BinaryOp::Arctan2,   BinaryOp::Equal,     BinaryOp::NotEqual,
    BinaryOp::Less,        BinaryOp::LessEqual, BinaryOp::Greater,   BinaryOp::GreaterEqual,
    BinaryOp::LogicalAnd,  BinaryOp::LogicalOr, BinaryOp::LogicalXor};
const Dtype kAllDtypes[] = {bool_, uint8, int32, int64, float16, bfloat16, float32, float64};

// Eager result of one primitive, or an invalid array when eager rejects the dtype.
array eager(std::shared_ptr<Primitive> prim, Dtype out, std::vector<array> in) {
  Shape shape = in[0].shape();
  array r(shape, out, std::move(prim), std::move(in));
  try {
    r.eval();
  } catch (const std::invalid_argument&) {
    return array();
  }
  return r;
}

// Per instance b of a [B, M, N] input: t = x * 2 materialised into an [M, N]
// local, its row max (Reduce {1}) and column max (Reduce {0}), then
// out[b, i, j] = t[i, j] - rowmax[i] + colmax[j].
Kernel tile_kernel(int64_t B, int64_t M, int64_t N) {
  Kernel k{"tile_rowcol",
           {{float32, B * M * N}, {float32, B * M * N, true}},
           {B},
           {{float32, {M, N}}, {float32, {M}}, {float32, {N}}},
           {}};
  k.phases.resize(4);
  {
    Phase& P = k.phases[0];
    P.domain = {M, N};
    PhaseBuilder p(P);
    int at = p.linear_index({p.grid_index(0), p.domain_index(0), p.domain_index(1)}, {M * N, N, 1});
    int x = p.load(0, float32, at);
    p.materialize(0, p.binary(BinaryOp::Multiply, x, p.constant(2, float32)));
  }
  for (int ph = 1; ph <= 2; ++ph) {
    Phase& P = k.phases[ph];
    P.kind = PhaseKind::Reduce;
    P.domain = {M, N};
    P.reduced_axes = {ph == 1 ? 1 : 0};
    PhaseBuilder p(P);
    int t = p.load_local(0, float32, {p.domain_index(0), p.domain_index(1)});
    p.reduce(ReduceOp::Max, ph, t);
  }
  {
    Phase& P = k.phases[3];
    P.domain = {M, N};
    PhaseBuilder p(P);
    int i = p.domain_index(0), j = p.domain_index(1);
    int t = p.load_local(0, float32, {i, j});
    int r = p.load_local(1, float32, {i});
    int c = p.load_local(2, float32, {j});
    int at = p.linear_index({p.grid_index(0), i, j}, {M * N, N, 1});
    p.store(1, at, p.binary(BinaryOp::Add, p.binary(BinaryOp::Subtract, t, r), c));
  }
  return k;
}

// out[i, j] = exp(a[j, i]) * b[j] + 1 with a stored [N, M] and read transposed,
// b of shape [N] broadcast over rows; grid [M, N].
Kernel pointwise_kernel(int64_t M, int64_t N, Dtype dt) {
  Kernel k{"pointwise_chain", {{dt, N * M}, {dt, N}, {dt, M * N, true}}, {M, N}, {}, {Phase{}}};
  PhaseBuilder p(k.phases[0]);
  int i = p.grid_index(0), j = p.grid_index(1);
  int a = p.load(0, dt, p.linear_index({i, j}, {1, M}));
  int b = p.load(1, dt, j);
  int y = p.binary(BinaryOp::Add, p.binary(BinaryOp::Multiply, p.unary(UnaryOp::Exp, a), b),
                   p.constant(1, dt));
  p.store(2, p.linear_index({i, j}, {N, 1}), y);
  return k;
}

// out[i] = x[idx[i]] (gather through an int32 index argument).
Kernel gather_kernel(int64_t n, int64_t m) {
  Kernel k{"gather", {{float32, m}, {int32, n}, {float32, n, true}}, {n}, {}, {Phase{}}};
  PhaseBuilder p(k.phases[0]);
  int i = p.grid_index(0);
  int j = p.cast(p.load(1, int32, i), int64);
  p.store(2, i, p.load(0, float32, j));
  return k;
}

// locals[0] = op over each row of x [R, C]; out[r] = that value.
Kernel reduce_kernel(ReduceOp op, Dtype dt, int64_t R, int64_t C) {
  Kernel k{"reduce_rows", {{dt, R * C}, {dt, R, true}}, {R}, {{dt, {1}}}, {}};
  k.phases.resize(2);
  Phase& P = k.phases[0];
  P.kind = PhaseKind::Reduce;
  P.domain = {C};
  P.reduced_axes = {0};
  PhaseBuilder p(P);
  p.reduce(op, 0, p.load(0, dt, p.linear_index({p.grid_index(0), p.domain_index(0)}, {C, 1})));
  PhaseBuilder q(k.phases[1]);
  q.store(1, q.grid_index(0), q.load_local(0, dt, {q.index(0)}));
  return k;
}

}  // namespace

TEST_CASE("codegen: pointwise chain with broadcast and a transposed input", "[codegen]") {
  const int64_t M = 37, N = 29;
  for (bool fast : {false, true}) {
    INFO("fast " << fast);
    array a = random::normal(random::key(1), {N, M});
    array b = random::normal(random::key(2), {N});
    Kernel k = pointwise_kernel(M, N, float32);
    auto ck = compile_cpu(k, {fast});
    Buf ba = from_array(a), bb = from_array(b), out = empty_buf(float32, M * N);
    run_all(*ck, {&ba, &bb, &out}, M * N);
    array want = exp(transpose(a)) * b + 1.0f;
    // exp(a) * b + 1 cancels near -1: compare with an absolute floor.
    check_equal(to_array(out, {M, N}), want, float32, fast ? 8 : 3, "pointwise", 2e-6);
    CHECK(ck->mlir().find("func.func @pointwise_chain") != std::string::npos);
    CHECK(ck->lowered_mlir().find("llvm.func") != std::string::npos);
    CHECK(ck->compile_seconds() > 0);
  }
}

TEST_CASE("codegen: gather through an int32 index", "[codegen]") {
  const int64_t n = 50, m = 20;
  array x = random::normal(random::key(3), {m});
  array idx = random::randint(random::key(4), 0, m, {n});
  auto ck = compile_cpu(gather_kernel(n, m), {});
  Buf bx = from_array(x), bi = from_array(idx), out = empty_buf(float32, n);
  run_all(*ck, {&bx, &bi, &out}, n);
  check_equal(to_array(out, {n}), take(x, idx, 0), float32, 0, "gather");
}

TEST_CASE("codegen: row softmax in one kernel", "[codegen]") {
  const int64_t R = 13, C = 300;
  array x = random::normal(random::key(5), {R, C}) * 4.0f;
  for (bool fast : {false, true}) {
    INFO("fast " << fast);
    auto ck = compile_cpu(softmax_kernel(R, C), {fast});
    Buf bx = from_array(x), out = empty_buf(float32, R * C);
    run_all(*ck, {&bx, &out}, R);
    check_equal(to_array(out, {R, C}), softmax(x, 1), float32, fast ? 64 : 16, "softmax");
    // Disjoint grid ranges from two threads at once.
    Buf out2 = empty_buf(float32, R * C);
    std::vector<void*> ptrs{bx.bytes.data(), out2.bytes.data()};
    std::thread t1([&] { ck->run(ptrs.data(), 0, 5); });
    std::thread t2([&] { ck->run(ptrs.data(), 5, R); });
    t1.join();
    t2.join();
    CHECK(out2.bytes == out.bytes);
    WARN("row softmax CPU " << (fast ? "fast" : "exact") << ": compiled in "
                            << ck->compile_seconds() * 1e3 << " ms");
  }
}

TEST_CASE("codegen: a concatenation along the inner axis runs in pieces", "[codegen]") {
  // out[r, j] = j < 3 ? a[r, j] : (j >= 8 ? 7 : b[r, clamp(j - 3, 0, 4)]):
  // the inner loop splits at 3 and 8, so each piece is a plain copy.
  const int64_t R = 5, C = 10;
  Kernel k{"concat_pieces", {{float32, R * 3}, {float32, R * 5}, {float32, R * C, true}}, {R}, {},
           {}};
  k.phases.resize(1);
  Phase& P = k.phases[0];
  P.domain = {C};
  PhaseBuilder p(P);
  const int r = p.grid_index(0), j = p.domain_index(0);
  const int a = p.load(0, float32, p.add(p.mul(r, p.index(3)), p.binary(BinaryOp::Minimum, j, p.index(2))));
  const int jb = p.binary(BinaryOp::Minimum,
                          p.binary(BinaryOp::Maximum, p.add(j, p.index(-3)), p.index(0)), p.index(4));
  const int b = p.load(1, float32, p.add(p.mul(r, p.index(5)), jb));
  const int tail = p.select(p.binary(BinaryOp::GreaterEqual, j, p.index(8)), p.constant(7, float32), b);
  p.store(2, p.add(p.mul(r, p.index(C)), j),
          p.select(p.binary(BinaryOp::Less, j, p.index(3)), a, tail));
  array xa = random::normal(random::key(11), {R, 3});
  array xb = random::normal(random::key(12), {R, 5});
  auto ck = compile_cpu(k, {});
  Buf ba = from_array(xa), bb = from_array(xb), out = empty_buf(float32, R * C);
  run_all(*ck, {&ba, &bb, &out}, R);
  array want = concatenate({xa, xb, full({R, 2}, 7.0f)}, 1);
  check_equal(to_array(out, {R, C}), want, float32, 0, "concatenation");
  // One loop over the grid, three over the pieces [0, 3), [3, 8), [8, 10).
  const std::string mlir = ck->mlir();
  size_t loops = 0;
  for (size_t at = mlir.find("scf.for"); at != std::string::npos; at = mlir.find("scf.for", at + 1)) {
    ++loops;
  }
  CHECK(loops == 4);
}

TEST_CASE("codegen: row and column max of a per-instance tile", "[codegen]") {
  const int64_t B = 3, M = 10, N = 30;
  array x = random::normal(random::key(6), {B, M, N});
  auto ck = compile_cpu(tile_kernel(B, M, N), {});
  Buf bx = from_array(x), out = empty_buf(float32, B * M * N);
  run_all(*ck, {&bx, &out}, B);
  array t = x * 2.0f;
  array want = t - max(t, 2, true) + max(t, 1, true);
  check_equal(to_array(out, {B, M, N}), want, float32, 0, "tile");
}

TEST_CASE("codegen: every unary op and dtype matches eager", "[codegen]") {
  const int64_t n = 64;

  for (bool fast : {false, true}) {
    for (Dtype dt : kAllDtypes) {
      if (fast && dt != float32) continue;
      INFO("dtype " << dtype_name(dt) << " fast " << fast);
      array x = test_values(dt, n, 7 + static_cast<int>(dt));
      std::vector<UnaryOp> ops;
      std::vector<array> want;
      for (UnaryOp op : kUnaryOps) {
        bool to_bool = op == UnaryOp::IsNan || op == UnaryOp::IsInf || op == UnaryOp::IsFinite;
        array w = eager(std::make_shared<Unary>(op), to_bool ? bool_ : dt, {x});
        if (!w.valid()) {
          // What eager rejects, validate() rejects too.
          Kernel bad = unary_kernel(dt, n, {op});
          CHECK_THROWS_AS(validate(bad), std::logic_error);
          continue;
        }
        ops.push_back(op);
        want.push_back(w);
      }
      Kernel k = unary_kernel(dt, n, ops);
      auto ck = compile_cpu(k, {fast});
      Buf bx = from_array(x);
      std::vector<Buf> outs;
      for (size_t j = 0; j < ops.size(); ++j) outs.push_back(empty_buf(k.args[j + 1].dtype, n));
      std::vector<Buf*> bufs{&bx};
      for (auto& o : outs) bufs.push_back(&o);
      run_all(*ck, bufs, n);
      for (size_t j = 0; j < ops.size(); ++j) {
        // Exact mode: libm vs eager's (<= 2 ulp) kernels; fast mode: polynomial
        // approximations, stated tolerance 8 ulp + 1e-6 absolute near zero.
        double ulps = fast ? 8 : 3;
        check_equal(to_array(outs[j], {n}), want[j], k.args[j + 1].dtype, ulps,
                    std::string(unary_op_name(ops[j])), fast ? 1e-6 : 0);
      }
    }
  }
}

TEST_CASE("codegen: every binary op and dtype matches eager", "[codegen]") {
  const int64_t n = 64;

  for (Dtype dt : kAllDtypes) {
    INFO("dtype " << dtype_name(dt));
    array a = test_values(dt, n, 11 + static_cast<int>(dt));
    array b = test_values(dt, n, 23 + static_cast<int>(dt), /*divisor=*/true);
    if (!is_floating(dt) && dt != bool_) {
      // Small exponents keep integer powers meaningful; both wrap the same way.
      b = astype(where(abs(b) > array(5, dt), floor_divide(b, array(4, dt)), b), dt);
    }
    std::vector<BinaryOp> ops;
    std::vector<array> want;
    for (BinaryOp op : kBinaryOps) {
      array w = eager(std::make_shared<Binary>(op), op >= BinaryOp::Equal ? bool_ : dt, {a, b});
      if (!w.valid()) {
        Kernel bad = binary_kernel(dt, n, {op});
        CHECK_THROWS_AS(validate(bad), std::logic_error);
        continue;
      }
      ops.push_back(op);
      want.push_back(w);
    }
    Kernel k = binary_kernel(dt, n, ops);
    auto ck = compile_cpu(k, {});
    Buf ba = from_array(a), bb = from_array(b);
    std::vector<Buf> outs;
    for (size_t j = 0; j < ops.size(); ++j) outs.push_back(empty_buf(k.args[j + 2].dtype, n));
    std::vector<Buf*> bufs{&ba, &bb};
    for (auto& o : outs) bufs.push_back(&o);
    run_all(*ck, bufs, n);
    for (size_t j = 0; j < ops.size(); ++j) {
      check_equal(to_array(outs[j], {n}), want[j], k.args[j + 2].dtype, 1,
                  std::string(binary_op_name(ops[j])));
    }
  }
}

TEST_CASE("codegen: the six reductions, NaN included", "[codegen]") {
  const int64_t R = 6, C = 257;
  struct Case {
    ReduceOp op;
    Dtype dt;
  };
  const Case cases[] = {
      {ReduceOp::Sum, float32}, {ReduceOp::Prod, float32}, {ReduceOp::Max, float32},
      {ReduceOp::Min, float32}, {ReduceOp::Sum, int32},    {ReduceOp::Prod, int64},
      {ReduceOp::Max, int32},   {ReduceOp::Min, uint8},    {ReduceOp::All, bool_},
      {ReduceOp::Any, bool_},   {ReduceOp::Sum, float16},  {ReduceOp::Max, bfloat16},
      {ReduceOp::Sum, float64}};
  for (bool fast : {false, true}) {
    for (const auto& c : cases) {
      INFO(reduce_op_name(c.op) << " " << dtype_name(c.dt) << " fast " << fast);
      array x = test_values(c.dt, R * C, 31);
      if (c.op == ReduceOp::Prod) x = where(abs(x) > array(2.0, c.dt), array(1.0, c.dt), x);
      if (c.op == ReduceOp::All || c.op == ReduceOp::Any)
        x = random::uniform(random::key(9), {R * C}) <
            array(c.op == ReduceOp::All ? 0.999f : 0.001f);
      x = reshape(x, {R, C});
      if (is_floating(c.dt)) {
        // Row 0 keeps its NaN, the other rows are NaN-free except row 3.
        x = where(isnan(x), array(0.5, c.dt), x);
        std::vector<double> row_nan(R * C, 0);
        row_nan[3] = 1;
        row_nan[3 * C + 100] = 1;
        x = where(array(row_nan, {R, C}) > array(0.0), array(NAN, c.dt), x);
        x = where(isinf(x), array(3.0, c.dt), x);
      }
      auto ck = compile_cpu(reduce_kernel(c.op, c.dt, R, C), {fast});
      Buf bx = from_array(x), out = empty_buf(c.dt, R);
      run_all(*ck, {&bx, &out}, R);
      array want;
      switch (c.op) {
        // Exact sums accumulate in float64 in order: compare with the float64
        // sum rounded once (eager's blocked float lanes are less accurate).
        case ReduceOp::Sum:
          want = is_floating(c.dt) ? sum(astype(x, float64), 1) : sum(x, 1);
          break;
        case ReduceOp::Prod:
          want = prod(x, 1);
          break;
        case ReduceOp::Max:
          want = max(x, 1);
          break;
        case ReduceOp::Min:
          want = min(x, 1);
          break;
        case ReduceOp::All:
          want = all(x, 1);
          break;
        case ReduceOp::Any:
          want = any(x, 1);
          break;
      }
      want = astype(want, c.dt);
      // Exact float32 sums accumulate in float64 like eager: within 1 ulp of
      // eager's (blocked) order; fast mode reassociates in float32.
      double ulps = fast ? 64 : 1;
      double atol = fast ? 1e-4 : c.dt == float64 ? 1e-12 : 0;
      check_equal(to_array(out, {R}), want, c.dt, ulps, reduce_op_name(c.op), atol);
    }
  }
}

TEST_CASE("codegen: validate rejects malformed kernels", "[codegen]") {
  auto expect = [](const Kernel& k, const std::string& part) {
    try {
      validate(k);
      FAIL("expected std::logic_error containing " << part);
    } catch (const std::logic_error& e) {
      std::string msg = e.what();
      INFO(msg);
      CHECK(msg.find(part) != std::string::npos);
      CHECK(msg.find("[validate]") != std::string::npos);
    }
  };
  Kernel good = gather_kernel(4, 4);
  REQUIRE_NOTHROW(validate(good));
  std::string listing = to_string(softmax_kernel(2, 8));
  CHECK(listing.find("kernel row_softmax grid (2)") != std::string::npos);
  CHECK(listing.find("phase 1 reduce domain (8) reduce axes (0)") != std::string::npos);
  CHECK(listing.find("local1 = Sum") != std::string::npos);
  {
    Kernel k = good;
    k.name = "9bad name";
    expect(k, "identifier");
  }
  {
    Kernel k = good;
    k.phases[0].exprs[1].operands = {5};
    expect(k, "operand 0 refers to expr 5");
  }
  {
    Kernel k = good;
    k.phases[0].stores[0].arg = 0;
    expect(k, "store to input arg 0");
  }
  {
    Kernel k = good;
    k.phases[0].exprs[0].axis = 2;
    expect(k, "grid axis 2 out of range");
  }
  {
    Kernel k = softmax_kernel(2, 8);
    k.phases[0].reduced_axes = {1};
    expect(k, "reduced axis 1 out of range");
  }
  {
    Kernel k = softmax_kernel(2, 8);
    k.locals[1].shape = {2};
    expect(k, "phase 1");
  }
  {
    Kernel k = tile_kernel(1, 4, 5);
    k.locals[0].shape = {5, 4};
    expect(k, "materialize: local 0 shape (5,4) != domain (4,5)");
  }
  {
    Kernel k = gather_kernel(4, 4);
    PhaseBuilder p(k.phases[0]);
    p.binary(BinaryOp::Add, 0, 1);  // int64 + int32
    expect(k, "operands have dtypes int64 and int32");
  }
  {
    Kernel k = reduce_kernel(ReduceOp::All, float32, 2, 3);
    expect(k, "reduction All on dtype float32");
  }
}

TEST_CASE("codegen: f16, bf16, bool and int arguments round-trip", "[codegen]") {
  // out = cast(x_f16) * y_bf16 -> bf16, flag = x > 0 (bool), and an int64 sum.
  const int64_t n = 40;
  Kernel k{"mixed",
           {{float16, n},
            {bfloat16, n},
            {int32, n},
            {bfloat16, n, true},
            {bool_, n, true},
            {int64, n, true}},
           {n},
           {},
           {Phase{}}};
  PhaseBuilder p(k.phases[0]);
  int i = p.grid_index(0);
  int x = p.load(0, float16, i), y = p.load(1, bfloat16, i), z = p.load(2, int32, i);
  p.store(3, i, p.binary(BinaryOp::Multiply, p.cast(x, bfloat16), y));
  p.store(4, i, p.binary(BinaryOp::Greater, x, p.constant(0, float16)));
  p.store(5, i, p.add(p.cast(z, int64), i));
  array ax = test_values(float16, n, 41), ay = test_values(bfloat16, n, 42),
        az = test_values(int32, n, 43);
  auto ck = compile_cpu(k, {});
  Buf bx = from_array(ax), by = from_array(ay), bz = from_array(az);
  Buf o1 = empty_buf(bfloat16, n), o2 = empty_buf(bool_, n), o3 = empty_buf(int64, n);
  run_all(*ck, {&bx, &by, &bz, &o1, &o2, &o3}, n);
  check_equal(to_array(o1, {n}), astype(ax, bfloat16) * ay, bfloat16, 0, "f16*bf16");
  check_equal(to_array(o2, {n}), ax > array(0.0, float16), bool_, 0, "x > 0");
  check_equal(to_array(o3, {n}), astype(az, int64) + arange(n, int64), int64, 0, "int sum");
}

TEST_CASE("codegen: emit_mlir is deterministic and names the schedule", "[codegen]") {
  Kernel k = softmax_kernel(4, 64);
  std::string a = emit_mlir(k, Target::Cpu, {});
  CHECK(a == emit_mlir(k, Target::Cpu, {}));
  CHECK(a.find("memref.alloca") != std::string::npos);
  CHECK(a.find("scf.for") != std::string::npos);
  std::string g = emit_mlir(k, Target::Sm90, {});
  if (std::getenv("MFX_DUMP_MLIR")) WARN(g << emit_mlir(tile_kernel(2, 4, 40), Target::Sm90, {}));
  CHECK(g.find("gpu.func @row_softmax") != std::string::npos);
  CHECK(g.find("gpu.shuffle") != std::string::npos);
  CHECK(g.find("gpu.barrier") != std::string::npos);
}

TEST_CASE("codegen: PTX for sm_80 and sm_90 passes ptxas", "[codegen][ptx]") {
  if (!std::filesystem::exists("/usr/local/cuda/bin/ptxas") && !std::getenv("CUDA_HOME")) {
    WARN("no CUDA toolkit: PTX checks skipped");
    return;
  }
  struct Named {
    const char* what;
    Kernel k;
  };
  std::vector<Named> kernels{{"softmax", softmax_kernel(64, 300)},
                             {"tile", tile_kernel(8, 100, 300)},
                             {"pointwise", pointwise_kernel(64, 48, float16)},
                             {"gather", gather_kernel(100, 30)},
                             {"reduce_f64_max", reduce_kernel(ReduceOp::Max, int64, 16, 1000)},
                             {"reduce_any", reduce_kernel(ReduceOp::Any, bool_, 16, 40)}};
  for (Target t : {Target::Sm80, Target::Sm90}) {
    for (bool fast : {false, true}) {
      for (auto& [what, k] : kernels) {
        INFO(what << " " << target_name(t) << " fast " << fast);
        PtxKernel ptx = compile_ptx(k, t, {fast});
        CHECK(ptx.ptx.find(".entry " + k.name) != std::string::npos);
        CHECK(ptx.ptx.back() != '\0');
        PtxasInfo info = run_ptxas(ptx.ptx, t);
        CHECK(info.registers > 0);
        CHECK(info.spill_bytes == 0);
        WARN(what << " " << target_name(t) << (fast ? " fast" : " exact") << ": " << info.registers
                  << " registers, block " << ptx.block_threads << " x grid " << ptx.grid_blocks
                  << ", dynamic smem " << ptx.shared_bytes << " B, compile "
                  << ptx.compile_seconds * 1e3 << " ms");
      }
    }
  }
  PtxKernel sm = compile_ptx(softmax_kernel(64, 300), Target::Sm90, {});
  CHECK(sm.block_threads == 256);
  CHECK(sm.grid_blocks == 64);
  PtxKernel pw = compile_ptx(pointwise_kernel(64, 48, float32), Target::Sm90, {});
  CHECK(pw.block_threads == 256);
  CHECK(pw.grid_blocks == (64 * 48 + 255) / 256);
  CHECK(pw.shared_bytes == 0);
  PtxKernel tile = compile_ptx(tile_kernel(8, 100, 300), Target::Sm90, {});
  CHECK(tile.shared_bytes >= 100 * 300 * 4 + 100 * 4 + 300 * 4);
  CHECK_THROWS_WITH(run_ptxas(".version 8.0\n.target sm_90\nbogus;", Target::Sm90),
                    Catch::Contains("[run_ptxas]"));
}

TEST_CASE("codegen: every op and dtype lowers to PTX that ptxas accepts", "[codegen][ptx]") {
  if (!std::filesystem::exists("/usr/local/cuda/bin/ptxas") && !std::getenv("CUDA_HOME")) {
    WARN("no CUDA toolkit: PTX checks skipped");
    return;
  }
  for (bool fast : {false, true}) {
    for (Dtype dt : kAllDtypes) {
      INFO(dtype_name(dt) << " fast " << fast);
      // The ops validate() accepts for dtype dt (the eager set, checked above).
      std::vector<UnaryOp> uops;
      for (UnaryOp op : kUnaryOps) {
        try {
          validate(unary_kernel(dt, 8, {op}));
          uops.push_back(op);
        } catch (const std::logic_error&) {
        }
      }
      std::vector<BinaryOp> bops;
      for (BinaryOp op : kBinaryOps) {
        try {
          validate(binary_kernel(dt, 8, {op}));
          bops.push_back(op);
        } catch (const std::logic_error&) {
        }
      }
      for (const Kernel& k : {unary_kernel(dt, 1000, uops), binary_kernel(dt, 1000, bops)}) {
        PtxKernel ptx = compile_ptx(k, Target::Sm90, {fast});
        CHECK_NOTHROW(run_ptxas(ptx.ptx, Target::Sm90));
      }
    }
  }
}

TEST_CASE("codegen: reduction over non-adjacent axes with two results", "[codegen]") {
  // Per grid point g of x [G, A, B, C]: s[b] = sum over (a, c), m[b] = min
  // over (a, c); out[g, b] = s[b] * m[b].
  const int64_t G = 3, A = 4, B = 5, C = 6;
  Kernel k{"nonadjacent",
           {{float32, G * A * B * C}, {float32, G * B, true}},
           {G},
           {{float32, {B}}, {float32, {B}}},
           {}};
  k.phases.resize(2);
  Phase& r = k.phases[0];
  r.kind = PhaseKind::Reduce;
  r.domain = {A, B, C};
  r.reduced_axes = {0, 2};
  PhaseBuilder p(r);
  int x = p.load(
      0, float32,
      p.linear_index({p.grid_index(0), p.domain_index(0), p.domain_index(1), p.domain_index(2)},
                     {A * B * C, B * C, C, 1}));
  p.reduce(ReduceOp::Sum, 0, x);
  p.reduce(ReduceOp::Min, 1, x);
  Phase& m = k.phases[1];
  m.domain = {B};
  PhaseBuilder q(m);
  int b = q.domain_index(0);
  int v =
      q.binary(BinaryOp::Multiply, q.load_local(0, float32, {b}), q.load_local(1, float32, {b}));
  q.store(1, q.linear_index({q.grid_index(0), b}, {B, 1}), v);

  array xs = random::normal(random::key(12), {G, A, B, C});
  auto ck = compile_cpu(k, {});
  Buf bx = from_array(xs), out = empty_buf(float32, G * B);
  run_all(*ck, {&bx, &out}, G);
  // np: x.astype(np.float64).sum((1, 3)).astype(np.float32) * x.min((1, 3))
  array want = astype(sum(astype(xs, float64), {1, 3}), float32) * min(xs, {1, 3});
  check_equal(to_array(out, {G, B}), want, float32, 1, "sum*min");
  PtxKernel ptx = compile_ptx(k, Target::Sm80, {});
  CHECK(ptx.block_threads == 128);  // 4*5*6 = 120 points -> 128 threads
  if (std::filesystem::exists("/usr/local/cuda/bin/ptxas")) {
    CHECK_NOTHROW(run_ptxas(ptx.ptx, Target::Sm80));
  }
}

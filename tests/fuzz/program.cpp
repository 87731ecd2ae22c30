#include "fuzz/program.h"

#include <fmt/format.h>

#include <iterator>
#include <limits>
#include <random>

namespace mfx::fuzz {

namespace {

using Rng = std::mt19937_64;

const Dtype kDtypes[] = {bool_, uint8, int32, int64, float16, bfloat16, float32, float64};

int64_t pick(Rng& r, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(r);
}
bool chance(Rng& r, double p) { return std::uniform_real_distribution<double>(0, 1)(r) < p; }

// A dimension: mostly small, sometimes 0, rarely huge or negative.
int64_t draw_dim(Rng& r, bool wild) {
  if (wild && chance(r, 0.04)) {
    // Over the 2^48-byte limit on their own: a valid shape with such a dim
    // would be real work of hours, not a test of the checks.
    const int64_t huge[] = {int64_t{1} << 49, int64_t{3} << 50, int64_t{1} << 62,
                            std::numeric_limits<int64_t>::max()};
    return huge[pick(r, 0, 3)];
  }
  if (wild && chance(r, 0.02)) return -pick(r, 1, 3);
  if (chance(r, 0.08)) return 0;
  return pick(r, 1, 4);
}

Shape draw_shape(Rng& r, bool wild, int max_rank = 5) {
  Shape s(static_cast<size_t>(pick(r, 0, max_rank)));
  for (auto& d : s) d = draw_dim(r, wild);
  return s;
}

Dtype draw_dtype(Rng& r) { return kDtypes[pick(r, 0, 7)]; }

// An axis: mostly in range for `rank`, sometimes outside it.
int draw_axis(Rng& r, size_t rank) {
  if (chance(r, 0.1) || rank == 0) return static_cast<int>(pick(r, -7, 7));
  return static_cast<int>(pick(r, -static_cast<int64_t>(rank), static_cast<int64_t>(rank) - 1));
}

std::vector<int> draw_axes(Rng& r, size_t rank) {
  std::vector<int> axes(static_cast<size_t>(pick(r, 0, static_cast<int64_t>(rank) + 1)));
  for (auto& a : axes) a = draw_axis(r, rank);
  return axes;
}

// A permutation of 0..rank-1, sometimes broken (a repeat, an out-of-range axis, a wrong length).
std::vector<int> draw_perm(Rng& r, size_t rank) {
  std::vector<int> p(rank);
  for (size_t i = 0; i < rank; ++i) p[i] = static_cast<int>(i);
  std::shuffle(p.begin(), p.end(), r);
  if (chance(r, 0.1) && rank > 1) p[0] = p[1];
  if (chance(r, 0.05)) p.push_back(static_cast<int>(rank));
  if (chance(r, 0.05) && !p.empty()) p.pop_back();
  return p;
}

// A start/stop/step value: in range mostly, sometimes extreme.
int64_t draw_index(Rng& r) {
  if (chance(r, 0.1)) {
    const int64_t ext[] = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                           -(int64_t{1} << 50), int64_t{1} << 50};
    return ext[pick(r, 0, 3)];
  }
  return pick(r, -5, 5);
}

std::string str(const Shape& s) { return shape_str(s); }
std::string str(const std::vector<int>& v) { return fmt::format("({})", fmt::join(v, ",")); }

// Inputs: mostly sane shapes; the second input of a binary op often shares
// or broadcasts against the first, sometimes mismatches.
InputSpec draw_input(Rng& r, bool wild) { return {draw_shape(r, wild), draw_dtype(r)}; }

InputSpec related_input(Rng& r, const InputSpec& a) {
  InputSpec b{a.shape, chance(r, 0.5) ? a.dtype : draw_dtype(r)};
  if (chance(r, 0.3) && !b.shape.empty()) b.shape.erase(b.shape.begin());  // broadcasts
  if (chance(r, 0.15) && !b.shape.empty()) b.shape.back() = draw_dim(r, false);  // may mismatch
  return b;
}

struct OpDef {
  const char* name;
  // Fills c.inputs, c.text, c.program, c.differentiable.
  std::function<void(Rng&, Case&)> make;
};

using Fn1 = array (*)(const array&);
using Fn2 = array (*)(const array&, const array&);

OpDef unary(const char* name, Fn1 f, bool smooth) {
  return {name, [=](Rng& r, Case& c) {
            c.inputs = {draw_input(r, true)};
            c.program = [f](const std::vector<array>& x) { return f(x[0]); };
            c.differentiable = smooth;
          }};
}

OpDef binary(const char* name, Fn2 f, bool smooth) {
  return {name, [=](Rng& r, Case& c) {
            InputSpec a = draw_input(r, true);
            c.inputs = {a, related_input(r, a)};
            c.program = [f](const std::vector<array>& x) { return f(x[0], x[1]); };
            c.differentiable = smooth;
          }};
}

using ReduceFn = array (*)(const array&, const std::vector<int>&, bool);

OpDef reduction(const char* name, ReduceFn f, bool smooth) {
  return {name, [=](Rng& r, Case& c) {
            c.inputs = {draw_input(r, true)};
            auto axes = draw_axes(r, c.inputs[0].shape.size());
            bool keep = chance(r, 0.5);
            c.text = fmt::format("axes={}, keepdims={}", str(axes), keep);
            c.program = [f, axes, keep](const std::vector<array>& x) { return f(x[0], axes, keep); };
            c.differentiable = smooth;
          }};
}

// A convolution's gradient: mostly a valid geometry with the cotangent of
// the output's shape, sometimes a wild shape, dtype or parameter.
void draw_conv_grad(Rng& r, Case& c, bool weight) {
  const int64_t n = pick(r, 1, 2), g = pick(r, 1, 2), cg = pick(r, 1, 3), og = pick(r, 1, 3);
  const int64_t kh = pick(r, 1, 3), kw = pick(r, 1, 3), h = pick(r, 1, 7), w = pick(r, 1, 7);
  const int64_t s = pick(r, 1, 2), d = pick(r, 1, 2);
  const int64_t p = chance(r, 0.9) ? pick(r, 0, 2) : -1;
  auto out = [&](int64_t in, int64_t k) {
    const int64_t e = in + 2 * p - d * (k - 1) - 1;
    return e >= 0 ? e / s + 1 : 1;
  };
  Shape x{n, g * cg, h, w}, ct{n, g * og, out(h, kh), out(w, kw)}, wt{g * og, cg, kh, kw};
  if (chance(r, 0.1)) ct = draw_shape(r, true);
  if (chance(r, 0.05)) x = draw_shape(r, true);
  const int groups = chance(r, 0.95) ? static_cast<int>(g) : static_cast<int>(pick(r, -1, 4));
  auto dtype = [&] { return chance(r, 0.85) ? (chance(r, 0.5) ? float32 : float64) : draw_dtype(r); };
  c.text = fmt::format("kernel=({},{}), stride={}, padding={}, dilation={}, groups={}", kh, kw, s,
                       p, d, groups);
  const Pair st{s, s}, pad{p, p}, dil{d, d}, kernel{kh, kw}, size{h, w};
  if (weight) {
    c.inputs = {{x, dtype()}, {ct, dtype()}};
    c.program = [=](const std::vector<array>& a) {
      return conv2d_weight_grad(a[0], a[1], kernel, st, pad, dil, groups);
    };
  } else {
    c.inputs = {{ct, dtype()}, {wt, dtype()}};
    c.program = [=](const std::vector<array>& a) {
      return conv2d_input_grad(a[0], a[1], size, st, pad, dil, groups);
    };
  }
  c.differentiable = true;
}

const std::vector<OpDef>& ops() {
  static const std::vector<OpDef> table = {
      unary("negative", negative, true),
      unary("exp", exp, true),
      unary("log", log, false),
      unary("sqrt", sqrt, false),
      unary("abs", abs, false),
      unary("tanh", tanh, true),
      unary("sigmoid", sigmoid, true),
      unary("square", square, true),
      unary("sin", sin, true),
      unary("floor", floor, false),
      unary("logical_not", logical_not, false),
      unary("isnan", isnan, false),
      unary("erf", erf, true),
      unary("relu", relu, false),
      unary("expm1", expm1, true),
      unary("log1p", log1p, false),
      unary("rsqrt", rsqrt, false),
      unary("reciprocal", reciprocal, false),
      unary("sign", sign, false),
      unary("round", round, false),
      unary("ceil", ceil, false),
      unary("cos", cos, true),
      unary("tan", tan, false),
      unary("arctan", arctan, true),
      unary("erfinv", erfinv, false),
      unary("isinf", isinf, false),
      unary("isfinite", isfinite, false),
      unary(
          "gelu", [](const array& a) { return gelu(a); }, true),
      unary("softplus", softplus, true),
      unary("log_sigmoid", log_sigmoid, true),
      binary("not_equal", not_equal, false),
      binary("greater_equal", greater_equal, false),
      binary("logical_or", logical_or, false),
      binary("logical_xor", logical_xor, false),
      reduction(
          "var", [](const array& a, const std::vector<int>& ax, bool k) { return var(a, ax, k); },
          true),
      reduction(
          "std",
          [](const array& a, const std::vector<int>& ax, bool k) { return mfx::std(a, ax, k); },
          false),
      binary("add", add, true),
      binary("subtract", subtract, true),
      binary("multiply", multiply, true),
      binary("divide", divide, false),
      binary("floor_divide", floor_divide, false),
      binary("remainder", remainder, false),
      binary("power", power, false),
      binary("maximum", maximum, false),
      binary("minimum", minimum, false),
      binary("arctan2", arctan2, false),
      binary("equal", equal, false),
      binary("less", less, false),
      binary("logical_and", logical_and, false),
      reduction("sum", sum, true),
      reduction("mean", mean, true),
      reduction("prod", prod, true),
      reduction("max", max, false),
      reduction("min", min, false),
      reduction("all", mfx::all, false),
      reduction("any", any, false),
      reduction("logsumexp", logsumexp, true),
      {"argmax",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return argmax(x[0], ax); };
       }},
      {"softmax",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return softmax(x[0], ax); };
         c.differentiable = true;
       }},
      {"cumsum",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         bool rev = chance(r, 0.3);
         c.text = fmt::format("axis={}, reverse={}", ax, rev);
         c.program = [ax, rev](const std::vector<array>& x) { return cumsum(x[0], ax, rev); };
         c.differentiable = true;
       }},
      {"reshape",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, false)};
         Shape s = draw_shape(r, true);
         if (chance(r, 0.3) && !s.empty()) s[pick(r, 0, static_cast<int64_t>(s.size()) - 1)] = -1;
         // Often a valid target: the input's element count as one axis.
         if (chance(r, 0.4)) {
           int64_t n = 1;
           for (auto d : c.inputs[0].shape) n *= d;
           s = {n};
         }
         c.text = fmt::format("shape={}", str(s));
         c.program = [s](const std::vector<array>& x) { return reshape(x[0], s); };
         c.differentiable = true;
       }},
      {"transpose",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         auto p = draw_perm(r, c.inputs[0].shape.size());
         c.text = fmt::format("axes={}", str(p));
         c.program = [p](const std::vector<array>& x) { return transpose(x[0], p); };
         c.differentiable = true;
       }},
      {"broadcast_to",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, false)};
         Shape s = chance(r, 0.5) ? c.inputs[0].shape : draw_shape(r, true);
         if (chance(r, 0.5)) s.insert(s.begin(), draw_dim(r, true));
         c.text = fmt::format("shape={}", str(s));
         c.program = [s](const std::vector<array>& x) { return broadcast_to(x[0], s); };
         c.differentiable = true;
       }},
      {"expand_dims",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         auto axes = draw_axes(r, c.inputs[0].shape.size() + 1);
         c.text = fmt::format("axes={}", str(axes));
         c.program = [axes](const std::vector<array>& x) { return expand_dims(x[0], axes); };
       }},
      {"squeeze",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         auto axes = draw_axes(r, c.inputs[0].shape.size());
         c.text = fmt::format("axes={}", str(axes));
         c.program = [axes](const std::vector<array>& x) { return squeeze(x[0], axes); };
       }},
      {"slice_axis",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         int64_t b = draw_index(r), e = draw_index(r), s = chance(r, 0.5) ? 1 : draw_index(r);
         c.text = fmt::format("axis={}, start={}, stop={}, step={}", ax, b, e, s);
         c.program = [=](const std::vector<array>& x) { return slice_axis(x[0], ax, b, e, s); };
         c.differentiable = s != 0;
       }},
      {"flip",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         auto axes = draw_axes(r, c.inputs[0].shape.size());
         c.text = fmt::format("axes={}", str(axes));
         c.program = [axes](const std::vector<array>& x) { return flip(x[0], axes); };
         c.differentiable = true;
       }},
      {"pad",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         std::vector<std::pair<int64_t, int64_t>> w(
             static_cast<size_t>(pick(r, 0, static_cast<int64_t>(c.inputs[0].shape.size()) + 1)));
         for (auto& p : w) p = {chance(r, 0.9) ? pick(r, 0, 2) : draw_index(r), pick(r, 0, 2)};
         std::string t;
         for (auto& p : w) t += fmt::format("({},{})", p.first, p.second);
         c.text = "width=" + t;
         c.program = [w](const std::vector<array>& x) { return pad(x[0], w, array(0.5f)); };
         c.differentiable = true;
       }},
      {"repeat",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         int64_t n = chance(r, 0.9) ? pick(r, 0, 3) : draw_index(r);
         c.text = fmt::format("repeats={}, axis={}", n, ax);
         c.program = [=](const std::vector<array>& x) { return repeat(x[0], n, ax); };
         c.differentiable = true;
       }},
      {"tile",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         std::vector<int64_t> reps(static_cast<size_t>(pick(r, 0, 4)));
         for (auto& v : reps) v = chance(r, 0.9) ? pick(r, 0, 3) : draw_index(r);
         c.text = fmt::format("reps={}", str(reps));
         c.program = [reps](const std::vector<array>& x) { return tile(x[0], reps); };
         c.differentiable = true;
       }},
      {"concatenate",
       [](Rng& r, Case& c) {
         InputSpec a = draw_input(r, true);
         c.inputs = {a, related_input(r, a)};
         int ax = draw_axis(r, a.shape.size());
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return concatenate({x[0], x[1]}, ax); };
         c.differentiable = true;
       }},
      {"stack",
       [](Rng& r, Case& c) {
         InputSpec a = draw_input(r, true);
         c.inputs = {a, related_input(r, a)};
         int ax = draw_axis(r, a.shape.size() + 1);
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return stack({x[0], x[1]}, ax); };
         c.differentiable = true;
       }},
      {"matmul",
       [](Rng& r, Case& c) {
         InputSpec a = draw_input(r, true);
         InputSpec b{draw_shape(r, true, 4), chance(r, 0.7) ? a.dtype : draw_dtype(r)};
         if (chance(r, 0.6) && !a.shape.empty()) {
           b.shape = {a.shape.back(), draw_dim(r, true)};
         }
         c.inputs = {a, b};
         c.program = [](const std::vector<array>& x) { return matmul(x[0], x[1]); };
         c.differentiable = true;
       }},
      {"take",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         std::vector<int64_t> idx(static_cast<size_t>(pick(r, 0, 4)));
         for (auto& v : idx) v = chance(r, 0.85) ? pick(r, -2, 2) : draw_index(r);
         c.text = fmt::format("indices={}, axis={}", str(idx), ax);
         c.program = [=](const std::vector<array>& x) {
           return take(x[0], array(idx, {static_cast<int64_t>(idx.size())}, int64), ax);
         };
         c.differentiable = true;
       }},
      {"one_hot",
       [](Rng& r, Case& c) {
         c.inputs = {{draw_shape(r, false, 3), chance(r, 0.8) ? int64 : draw_dtype(r)}};
         int64_t n = chance(r, 0.8) ? pick(r, 0, 5) : draw_index(r);
         c.text = fmt::format("num_classes={}", n);
         c.program = [n](const std::vector<array>& x) { return one_hot(x[0], n); };
       }},
      {"sort",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return sort(x[0], ax); };
       }},
      {"topk",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         int64_t k = chance(r, 0.8) ? pick(r, 0, 4) : draw_index(r);
         c.text = fmt::format("k={}, axis={}", k, ax);
         c.program = [=](const std::vector<array>& x) { return topk(x[0], k, ax).first; };
       }},
      {"clip",
       [](Rng& r, Case& c) {
         InputSpec a = draw_input(r, true);
         c.inputs = {a, related_input(r, a)};
         c.program = [](const std::vector<array>& x) { return clip(x[0], x[1], array(1.5f)); };
       }},
      {"where",
       [](Rng& r, Case& c) {
         InputSpec a = draw_input(r, true);
         c.inputs = {a, related_input(r, a)};
         c.program = [](const std::vector<array>& x) { return where(x[0] > x[1], x[0], x[1]); };
         c.names = {"where", "greater"};
       }},
      {"creation",
       [](Rng& r, Case& c) {
         const char* names[] = {"arange",  "eye",       "linspace",    "zeros",    "uniform",
                                "bits",    "ones",      "full",        "identity", "normal",
                                "randint", "bernoulli", "permutation", "split"};
         const int kind = static_cast<int>(pick(r, 0, static_cast<int64_t>(std::size(names)) - 1));
         const int64_t n = chance(r, 0.7) ? pick(r, 0, 5) : draw_dim(r, true);
         const Shape s = draw_shape(r, true);
         const Dtype t = draw_dtype(r);
         c.text = fmt::format("{}(n={}, shape={}, dtype={})", names[kind], n, str(s), dtype_name(t));
         c.names = {names[kind]};
         c.program = [=](const std::vector<array>&) -> array {
           const array k = random::key(1);
           switch (kind) {
             case 0:
               return arange(n, t);
             case 1:
               return eye(n, -1, 0, t);
             case 2:
               return linspace(0.0, 1.0, n, t);
             case 3:
               return zeros(s, t);
             case 4:
               return random::uniform(k, s);
             case 5:
               return random::bits(k, s);
             case 6:
               return ones(s, t);
             case 7:
               return full(s, array(2.5), t);
             case 8:
               return identity(n, t);
             case 9:
               return random::normal(k, s, 0.0, 1.0, t);
             case 10:
               return random::randint(k, -n, n, s, t);
             case 11:
               return random::bernoulli(k, array(0.25), s);
             case 12:
               return random::permutation(k, n);
             default:
               return random::split(k, static_cast<int>(n % 1000));
           }
         };
       }},
      {"like",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         const int kind = static_cast<int>(pick(r, 0, 2));
         const char* names[] = {"zeros_like", "ones_like", "full_like"};
         c.text = fmt::format("{}", names[kind]);
         c.names = {names[kind]};
         c.program = [kind](const std::vector<array>& x) -> array {
           if (kind == 0) return zeros_like(x[0]);
           if (kind == 1) return ones_like(x[0]);
           return full_like(x[0], array(0.5));
         };
       }},
      {"argmin",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return argmin(x[0], ax); };
       }},
      {"argsort",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return argsort(x[0], ax); };
       }},
      {"log_softmax",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("axis={}", ax);
         c.program = [ax](const std::vector<array>& x) { return log_softmax(x[0], ax); };
         c.differentiable = true;
       }},
      {"swapaxes",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int a = draw_axis(r, c.inputs[0].shape.size()), b = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("axis1={}, axis2={}", a, b);
         c.program = [a, b](const std::vector<array>& x) { return swapaxes(x[0], a, b); };
         c.differentiable = true;
       }},
      {"moveaxis",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int a = draw_axis(r, c.inputs[0].shape.size()), b = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("source={}, destination={}", a, b);
         c.program = [a, b](const std::vector<array>& x) { return moveaxis(x[0], a, b); };
         c.differentiable = true;
       }},
      {"flatten",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int a = draw_axis(r, c.inputs[0].shape.size()), b = draw_axis(r, c.inputs[0].shape.size());
         c.text = fmt::format("start_axis={}, end_axis={}", a, b);
         c.program = [a, b](const std::vector<array>& x) { return flatten(x[0], a, b); };
         c.differentiable = true;
       }},
      {"split",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         int ax = draw_axis(r, c.inputs[0].shape.size());
         int n = static_cast<int>(chance(r, 0.9) ? pick(r, 0, 4) : pick(r, -3, 1000));
         c.text = fmt::format("num_splits={}, axis={}", n, ax);
         c.program = [=](const std::vector<array>& x) { return split(x[0], n, ax).back(); };
         c.differentiable = true;
       }},
      {"take_along_axis",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         Shape is = c.inputs[0].shape;
         int ax = draw_axis(r, is.size());
         // Mostly the input's shape with a new length along the axis.
         if (!is.empty() && chance(r, 0.8)) {
           const int rank = static_cast<int>(is.size());
           is[static_cast<size_t>((ax % rank + rank) % rank)] = pick(r, 0, 3);
         }
         if (chance(r, 0.1)) is = draw_shape(r, false);
         int64_t n = 1;
         for (auto d : is) n = (d < 0 || d > 4096) ? 4097 : n * d;
         if (n > 4096) is = {1};
         std::vector<int64_t> idx(static_cast<size_t>(n > 4096 ? 1 : n));
         for (auto& v : idx) v = chance(r, 0.9) ? pick(r, -2, 2) : draw_index(r);
         c.text = fmt::format("indices={} of shape {}, axis={}", str(idx), str(is), ax);
         c.program = [=](const std::vector<array>& x) {
           return take_along_axis(x[0], array(idx, is, int64), ax);
         };
         c.differentiable = true;
       }},
      {"broadcast_arrays",
       [](Rng& r, Case& c) {
         InputSpec a = draw_input(r, true);
         c.inputs = {a, related_input(r, a)};
         c.program = [](const std::vector<array>& x) { return broadcast_arrays({x[0], x[1]})[1]; };
         c.differentiable = true;
       }},
      {"dropout",
       [](Rng& r, Case& c) {
         c.inputs = {draw_input(r, true)};
         const double p = chance(r, 0.8) ? 0.5 : -0.5;
         c.text = fmt::format("p={}", p);
         c.program = [p](const std::vector<array>& x) { return dropout(x[0], p, random::key(2)); };
       }},
      {"conv2d_weight_grad", [](Rng& r, Case& c) { draw_conv_grad(r, c, true); }},
      {"conv2d_input_grad", [](Rng& r, Case& c) { draw_conv_grad(r, c, false); }},
  };
  return table;
}

// Ops applied after the drawn one to make multi-op programs: they take any
// shape (a refusal is theirs to name) and are what the jit fuses and
// reorders (elementwise chains into reductions, views of computed values).
struct PostOp {
  const char* name;
  std::function<array(const array&)> f;
  bool smooth;
  std::vector<std::string> names;  // the public ops it calls
};

const std::vector<PostOp>& post_ops() {
  static const std::vector<PostOp> table = {
      {"exp", [](const array& y) { return exp(y); }, true, {"exp"}},
      {"tanh", [](const array& y) { return tanh(y); }, true, {"tanh"}},
      {"square", [](const array& y) { return square(y); }, true, {"square"}},
      {"negative", [](const array& y) { return negative(y); }, true, {"negative"}},
      {"abs", [](const array& y) { return abs(y); }, false, {"abs"}},
      {"sum", [](const array& y) { return sum(y); }, true, {"sum"}},
      {"mean", [](const array& y) { return mean(y); }, true, {"mean"}},
      {"max", [](const array& y) { return max(y); }, false, {"max"}},
      {"logsumexp", [](const array& y) { return logsumexp(y); }, true, {"logsumexp"}},
      {"sum_last", [](const array& y) { return sum(y, -1); }, true, {"sum"}},
      {"softmax_last", [](const array& y) { return softmax(y, -1); }, true, {"softmax"}},
      {"cumsum_first", [](const array& y) { return cumsum(y, 0); }, true, {"cumsum"}},
      {"flatten", [](const array& y) { return reshape(y, {-1}); }, true, {"reshape"}},
      {"transpose", [](const array& y) { return transpose(y); }, true, {"transpose"}},
      {"flip_first", [](const array& y) { return flip(y, {0}); }, true, {"flip"}},
      {"self_add", [](const array& y) { return y + y; }, true, {"add"}},
      {"self_mul", [](const array& y) { return y * y; }, true, {"multiply"}},
      {"scale",
       [](const array& y) { return y * array(0.5f) + array(1.0f); },
       true,
       {"multiply", "add"}},
      // Not smooth for the gradient check: it runs in float64, and rounding
      // to float32 moves the value by up to 2^-24 relative, far more than
      // the 1e-6 step of the central differences sees as a slope.
      {"astype_f32", [](const array& y) { return astype(y, float32); }, false, {"astype"}},
      {"astype_f16", [](const array& y) { return astype(y, float16); }, false, {"astype"}},
      {"greater_zero", [](const array& y) { return y > array(0.0f); }, false, {"greater"}},
      {"gram",
       [](const array& y) { return matmul(y, swapaxes(y, -1, -2)); },
       true,
       {"matmul", "swapaxes"}},
      {"slice_first", [](const array& y) { return slice_axis(y, 0, 1, 3); }, true, {"slice_axis"}},
  };
  return table;
}

}  // namespace

Case make_case(uint64_t seed) {
  Rng r(seed * 0x9e3779b97f4a7c15ull + 1);
  const auto& table = ops();
  const OpDef& op = table[static_cast<size_t>(pick(r, 0, static_cast<int64_t>(table.size()) - 1))];
  Case c;
  c.seed = seed;
  op.make(r, c);
  if (c.names.empty()) c.names = {op.name};
  std::string args;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    args += fmt::format("{}x{}: {} {}", i ? ", " : "", i, dtype_name(c.inputs[i].dtype),
                        shape_str(c.inputs[i].shape));
  }
  if (!c.text.empty()) args += (args.empty() ? "" : ", ") + c.text;
  c.text = fmt::format("{}({})", op.name, args);
  // A third of the cases go on through one to three more ops.
  for (int depth = 0; depth < 3 && chance(r, 0.35); ++depth) {
    const PostOp& p =
        post_ops()[static_cast<size_t>(pick(r, 0, static_cast<int64_t>(post_ops().size()) - 1))];
    c.program = [inner = c.program, f = p.f](const std::vector<array>& x) { return f(inner(x)); };
    c.differentiable = c.differentiable && p.smooth;
    c.names.insert(c.names.end(), p.names.begin(), p.names.end());
    c.text = fmt::format("{}({})", p.name, c.text);
  }
  return c;
}

std::vector<array> make_inputs(const Case& c) {
  Rng r(c.seed ^ 0x5bd1e995ull);
  std::vector<array> out;
  for (const auto& in : c.inputs) {
    bool huge = false;
    int64_t n = 1;
    for (auto d : in.shape) {
      if (d < 0 || d > 4096 || (n *= d) > 4096) huge = true;
    }
    if (huge) {
      out.push_back(broadcast_to(array(1.0f, in.dtype), in.shape));
      continue;
    }
    std::vector<double> v(static_cast<size_t>(n));
    for (auto& x : v) x = std::round(std::uniform_real_distribution<double>(-3, 3)(r) * 8) / 8;
    out.push_back(array(v, in.shape, in.dtype));
  }
  return out;
}

}  // namespace mfx::fuzz

// The fused AdamW update (see adamw_step.h).
#include "optim/adamw_step.h"

#include <cmath>

#include "cpu/copy.h"
#include "cpu/parallel.h"
#include "cpu/strided.h"
#include "mfx/ops.h"
#include "mfx/transforms.h"

namespace mfx::optim::detail {

namespace {

class AdamWStep : public Primitive {
 public:
  explicit AdamWStep(AdamWScalars s) : s_(s) {}
  std::string name() const override { return "AdamWStep"; }

  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override {
    // Parameters and moments are dense in practice; gradients often arrive
    // as views (a transposed product) and are read in place, where a dense
    // copy would add a pass over them.
    std::vector<array> args = in;
    for (size_t k : {size_t{0}, size_t{2}, size_t{3}}) {
      if (!args[k].flags().row_contiguous) args[k] = cpu::row_contiguous(args[k]);
    }
    for (auto& o : out) o.allocate();
    if (in[0].dtype() == float32) {
      run<float>(args, out);
    } else {
      run<double>(args, out);
    }
  }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                         const std::vector<int>& argnums, const std::vector<array>&) override {
    auto all = mfx::vjp(composite(), primals, cts).second;
    std::vector<array> res;
    for (int k : argnums) res.push_back(all[static_cast<size_t>(k)]);
    return res;
  }

  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override {
    std::vector<array> t;
    for (const array& p : primals) t.push_back(zeros_like(p));
    for (size_t k = 0; k < argnums.size(); ++k) t[static_cast<size_t>(argnums[k])] = tangents[k];
    return mfx::jvp(composite(), primals, t).second;
  }

  bool is_equivalent(const Primitive& other) const override {
    auto* o = dynamic_cast<const AdamWStep*>(&other);
    return o && o->s_.lr == s_.lr && o->s_.weight_decay == s_.weight_decay &&
           o->s_.beta1 == s_.beta1 && o->s_.beta2 == s_.beta2 && o->s_.eps == s_.eps &&
           o->s_.bias_correction1 == s_.bias_correction1 &&
           o->s_.bias_correction2 == s_.bias_correction2;
  }

 private:
  ArrayFn composite() const {
    const AdamWScalars s = s_;
    return [s](const std::vector<array>& a) { return adamw_composite(a[0], a[1], a[2], a[3], s); };
  }

  // The composite's ops, in its order: each scalar rounded to T as the ops
  // round a Python-like scalar operand, each step rounded to T.
  template <typename T>
  void run(const std::vector<array>& in, std::vector<array>& out) const {
    const T* p = in[0].data_ptr<T>();
    const T* g = in[1].data_ptr<T>();
    const T* m = in[2].data_ptr<T>();
    const T* v = in[3].data_ptr<T>();
    T* po = out[0].data_ptr<T>();
    T* mo = out[1].data_ptr<T>();
    T* vo = out[2].data_ptr<T>();
    const T b1 = static_cast<T>(s_.beta1), c1 = static_cast<T>(1.0 - s_.beta1);
    const T b2 = static_cast<T>(s_.beta2), c2 = static_cast<T>(1.0 - s_.beta2);
    const T bc2 = static_cast<T>(s_.bias_correction2), eps = static_cast<T>(s_.eps);
    const T step = static_cast<T>(s_.lr / s_.bias_correction1);
    const bool decay = s_.weight_decay != 0.0;
    const T keep = static_cast<T>(1.0 - s_.lr * s_.weight_decay);
    // Element i (row-major index) given its gradient gi.
    auto update = [&](int64_t i, T gi) {
      const T mi = b1 * m[i] + c1 * gi;
      const T vi = b2 * v[i] + c2 * (gi * gi);
      const T denom = std::sqrt(vi / bc2) + eps;
      const T decayed = decay ? p[i] * keep : p[i];
      po[i] = decayed - step * mi / denom;
      mo[i] = mi;
      vo[i] = vi;
    };
    if (in[1].flags().row_contiguous) {
      cpu::parallel_for(in[0].size(), cpu::kElementwiseGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) update(i, g[i]);
      });
      return;
    }
    const Strides dense = row_major_strides(in[0].shape());
    cpu::for_each_row<2>(
        in[0].shape(), {&dense, &in[1].strides()},
        [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& step_of) {
          for (int64_t j = 0; j < n; ++j) update(off[0] + j * step_of[0], g[off[1] + j * step_of[1]]);
        },
        true);
  }

  AdamWScalars s_;
};

}  // namespace

std::vector<array> adamw_composite(const array& p, const array& g, const array& m,
                                   const array& v, const AdamWScalars& s) {
  array mi = s.beta1 * m + (1.0 - s.beta1) * g;
  array vi = s.beta2 * v + (1.0 - s.beta2) * square(g);
  array denom = sqrt(vi / s.bias_correction2) + s.eps;
  array decayed = s.weight_decay != 0.0 ? p * (1.0 - s.lr * s.weight_decay) : p;
  return {decayed - (s.lr / s.bias_correction1) * mi / denom, mi, vi};
}

std::vector<array> adamw_fused(const array& p, const array& g, const array& m, const array& v,
                               const AdamWScalars& s) {
  return array::make_arrays({p.shape(), p.shape(), p.shape()}, {p.dtype(), p.dtype(), p.dtype()},
                            std::make_shared<AdamWStep>(s), {p, g, m, v});
}

bool adamw_fusable(const array& p, const array& g, const array& m, const array& v) {
  if (p.dtype() != float32 && p.dtype() != float64) return false;
  for (const array* a : {&p, &g, &m, &v}) {
    if (a->dtype() != p.dtype() || a->shape() != p.shape()) return false;
  }
  // Parameters are evaluated in eager training; traced ones (jit) and GPU
  // ones take the composite, which every backend and transform runs.
  return p.is_evaluated() && !p.on_gpu();
}

}  // namespace mfx::optim::detail

#include "cpu/dispatch.h"
#include "primitives/creation.h"

namespace mfx {

void Arange::eval_cpu(const std::vector<array>&, std::vector<array>& out) {
  array& o = out[0];
  o.allocate();
  cpu::dispatch_all(o.dtype(), [&](auto t) {
    using T = typename decltype(t)::type;
    T* p = o.data_ptr<T>();
    for (int64_t i = 0; i < o.size(); ++i) {
      double v = start_ + static_cast<double>(i) * step_;
      if constexpr (std::is_same_v<T, bool>) p[i] = v != 0.0;
      else if constexpr (std::is_integral_v<T>) p[i] = static_cast<T>(v);
      else p[i] = T(static_cast<cpu::compute_t<T>>(v));
    }
  });
}

bool Arange::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Arange*>(&other);
  return o && o->start_ == start_ && o->step_ == step_;
}

}  // namespace mfx

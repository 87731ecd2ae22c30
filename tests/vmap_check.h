// vmap against its definition: vmap(f)(x) equals f applied to every slice of
// the mapped arguments, stacked along the output axis.
#pragma once

#include "grad_check.h"

namespace mfx::test {

/// f applied per batch element (no vmap), stacked at out_axes (all mapped).
inline std::vector<array> stacked_reference(const ArrayFn& f, const std::vector<array>& args,
                                            const VmapAxes& in_axes, const VmapAxes& out_axes) {
  int64_t batch = -1;
  for (size_t i = 0; i < args.size(); ++i) {
    if (!in_axes[i]) continue;
    int ax = *in_axes[i] < 0 ? *in_axes[i] + args[i].ndim() : *in_axes[i];
    batch = args[i].shape()[ax];
  }
  std::vector<std::vector<array>> per_output;
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<array> slice;
    for (size_t i = 0; i < args.size(); ++i) {
      slice.push_back(in_axes[i] ? take(args[i], array(static_cast<int32_t>(b)), *in_axes[i])
                                 : args[i]);
    }
    auto outs = f(slice);
    per_output.resize(outs.size());
    for (size_t k = 0; k < outs.size(); ++k) per_output[k].push_back(outs[k]);
  }
  std::vector<array> res;
  for (size_t k = 0; k < per_output.size(); ++k) {
    int ax = out_axes.empty() ? 0 : *out_axes[k];
    res.push_back(stack(per_output[k], ax));
  }
  return res;
}

/// Checks vmap(f, in_axes, out_axes)(args) against the stacked per-slice
/// results: shapes, dtypes and values (exact for integer results).
inline void check_vmap(const ArrayFn& f, const std::vector<array>& args, const VmapAxes& in_axes,
                       const VmapAxes& out_axes = {}, double tol = 1e-12) {
  auto got = vmap(f, in_axes, out_axes)(args);
  auto want = stacked_reference(f, args, in_axes, out_axes);
  REQUIRE(got.size() == want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    INFO("result " << k);
    CHECK(got[k].dtype() == want[k].dtype());
    check_close(got[k], values(want[k]), want[k].shape(), tol, tol);
  }
}

}  // namespace mfx::test

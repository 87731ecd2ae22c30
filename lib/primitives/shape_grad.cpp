// Differentiation rules of Concatenate and Pad (both linear in all inputs):
// the vjp slices the cotangent back into the pieces, the jvp applies the
// primitive to the tangents.
#include "mfx/mfx.h"
#include "primitives/shape.h"

namespace mfx {

namespace {

bool differentiable(const array& a) {
  return is_floating(a.dtype());
}

// The tangent of input `i` (zeros when it was not requested).
array tangent_of(const std::vector<array>& primals, const std::vector<array>& tangents,
                 const std::vector<int>& argnums, int i) {
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == i && differentiable(primals[i]))
      return astype(tangents[k], primals[i].dtype());
  }
  return zeros_like(primals[i]);
}

}  // namespace

std::vector<array> Concatenate::vjp(const std::vector<array>& primals,
                                    const std::vector<array>& cts, const std::vector<int>& argnums,
                                    const std::vector<array>&) {
  std::vector<int64_t> offsets{0};
  for (auto& p : primals) offsets.push_back(offsets.back() + p.shape()[axis_]);
  std::vector<array> res;
  for (int a : argnums) {
    const array& p = primals[a];
    res.push_back(differentiable(p) ? slice_axis(cts[0], axis_, offsets[a], offsets[a + 1])
                                    : zeros_like(p));
  }
  return res;
}

std::vector<array> Concatenate::jvp(const std::vector<array>& primals,
                                    const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  std::vector<array> parts;
  for (size_t i = 0; i < primals.size(); ++i) {
    parts.push_back(tangent_of(primals, tangents, argnums, static_cast<int>(i)));
  }
  return {concatenate(parts, axis_)};
}

std::vector<array> Pad::vjp(const std::vector<array>& primals, const std::vector<array>& cts,
                            const std::vector<int>& argnums, const std::vector<array>&) {
  const array& a = primals[0];
  const array& ct = cts[0];
  Shape start(low_), stop(low_);
  for (size_t i = 0; i < stop.size(); ++i) stop[i] += a.shape()[i];
  array inner = slice(ct, start, stop);
  std::vector<array> res;
  for (int k : argnums) {
    if (!differentiable(primals[k])) {
      res.push_back(zeros_like(primals[k]));
    } else if (k == 0) {
      res.push_back(inner);
    } else {
      // Every padded position is a copy of the 0-d value.
      res.push_back(astype(sum(ct) - sum(inner), primals[1].dtype()));
    }
  }
  return res;
}

std::vector<array> Pad::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                            const std::vector<int>& argnums) {
  std::vector<std::pair<int64_t, int64_t>> widths;
  for (size_t i = 0; i < low_.size(); ++i) widths.emplace_back(low_[i], high_[i]);
  array ta = tangent_of(primals, tangents, argnums, 0);
  array tv = tangent_of(primals, tangents, argnums, 1);
  return {pad(ta, widths, tv)};
}

}  // namespace mfx

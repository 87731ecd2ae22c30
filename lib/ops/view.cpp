// Shape ops that are views: reshape, transpose, broadcast, slice and the ops
// built on them.
#include <algorithm>
#include <numeric>

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "primitives/view.h"
#include "shape_check.h"

namespace mfx {

array reshape(const array& a, Shape shape) {
  check_valid(a, "reshape");
  int infer = -1;
  // The product of the given dims is 0 when one is 0, whatever the others
  // (keepdims of an empty (2,4,2^62,0) reshapes to (2,1,2^62,0)); without
  // a zero, one that overflows int64 matches no array.
  int64_t known = 1;
  bool zero = false, overflow = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) {
        throw std::invalid_argument(
            fmt::format("[reshape] more than one -1 in target shape {}", shape_str(shape)));
      }
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument(fmt::format("[reshape] invalid target shape {}", shape_str(shape)));
    } else if (shape[i] == 0) {
      zero = true;
    } else if (!overflow) {
      overflow = __builtin_mul_overflow(known, shape[i], &known);
    }
  }
  if (zero) {
    known = 0;
  } else if (overflow) {
    throw std::invalid_argument(fmt::format("[reshape] cannot reshape array of shape {} into {}",
                                            shape_str(a.shape()), shape_str(shape)));
  }
  if (infer >= 0) {
    if (known == 0 || a.size() % known != 0) {
      throw std::invalid_argument(fmt::format("[reshape] cannot reshape array of shape {} into {}",
                                              shape_str(a.shape()), shape_str(shape)));
    }
    shape[infer] = a.size() / known;
    known *= shape[infer];
  }
  if (known != a.size()) {
    throw std::invalid_argument(fmt::format("[reshape] cannot reshape array of shape {} into {}",
                                            shape_str(a.shape()), shape_str(shape)));
  }
  if (shape == a.shape()) return a;
  Shape s = shape;
  return array(std::move(s), a.dtype(), std::make_shared<Reshape>(std::move(shape)), {a});
}

array flatten(const array& a, int start_axis, int end_axis) {
  check_valid(a, "flatten");
  if (a.ndim() == 0) return reshape(a, {1});
  int s = normalize_axis(start_axis, a.shape(), "flatten");
  int e = normalize_axis(end_axis, a.shape(), "flatten");
  if (s > e) {
    throw std::invalid_argument(fmt::format("[flatten] start axis {} is after end axis {} for shape {}",
                                            start_axis, end_axis, shape_str(a.shape())));
  }
  Shape out(a.shape().begin(), a.shape().begin() + s);
  // An empty array may have dims whose product overflows beside its zero.
  int64_t n = 1;
  const bool zero = std::find(a.shape().begin() + s, a.shape().begin() + e + 1, 0) !=
                    a.shape().begin() + e + 1;
  for (int i = s; i <= e && !zero; ++i) n = checked_dim_mul(n, a.shape()[i], "flatten");
  out.push_back(zero ? 0 : n);
  out.insert(out.end(), a.shape().begin() + e + 1, a.shape().end());
  return reshape(a, out);
}

array transpose(const array& a, const std::vector<int>& axes) {
  check_valid(a, "transpose");
  if (static_cast<int>(axes.size()) != a.ndim()) {
    throw std::invalid_argument(fmt::format("[transpose] {} axes given for array of shape {}",
                                            axes.size(), shape_str(a.shape())));
  }
  std::vector<int> ax;
  for (int v : axes) ax.push_back(normalize_axis(v, a.shape(), "transpose"));
  std::vector<int> sorted = ax;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < a.ndim(); ++i) {
    if (sorted[i] != i) {
      throw std::invalid_argument(fmt::format("[transpose] axes ({}) are not a permutation for shape {}",
                                              fmt::join(axes, ","), shape_str(a.shape())));
    }
  }
  bool identity = true;
  for (int i = 0; i < a.ndim(); ++i) identity = identity && ax[i] == i;
  if (identity) return a;
  Shape s(a.ndim());
  for (int i = 0; i < a.ndim(); ++i) s[i] = a.shape()[ax[i]];
  return array(std::move(s), a.dtype(), std::make_shared<Transpose>(std::move(ax)), {a});
}

array transpose(const array& a) {
  check_valid(a, "transpose");
  std::vector<int> ax(a.ndim());
  std::iota(ax.rbegin(), ax.rend(), 0);
  return transpose(a, ax);
}

array swapaxes(const array& a, int axis1, int axis2) {
  check_valid(a, "swapaxes");
  int i = normalize_axis(axis1, a.shape(), "swapaxes");
  int j = normalize_axis(axis2, a.shape(), "swapaxes");
  std::vector<int> ax = all_axes(a.ndim());
  std::swap(ax[i], ax[j]);
  return transpose(a, ax);
}

array moveaxis(const array& a, int source, int destination) {
  check_valid(a, "moveaxis");
  int s = normalize_axis(source, a.shape(), "moveaxis");
  int d = normalize_axis(destination, a.shape(), "moveaxis");
  std::vector<int> ax = all_axes(a.ndim());
  ax.erase(ax.begin() + s);
  ax.insert(ax.begin() + d, s);
  return transpose(a, ax);
}

array expand_dims(const array& a, const std::vector<int>& axes) {
  check_valid(a, "expand_dims");
  int out_nd = a.ndim() + static_cast<int>(axes.size());
  Shape probe(out_nd, 1);
  std::vector<int> ax = normalize_axes(axes, probe, "expand_dims");
  Shape s;
  size_t k = 0, src = 0;
  for (int i = 0; i < out_nd; ++i) {
    if (k < ax.size() && ax[k] == i) {
      s.push_back(1);
      ++k;
    } else {
      s.push_back(a.shape()[src++]);
    }
  }
  return reshape(a, s);
}

array expand_dims(const array& a, int axis) { return expand_dims(a, std::vector<int>{axis}); }

array squeeze(const array& a, const std::vector<int>& axes) {
  check_valid(a, "squeeze");
  std::vector<int> ax = normalize_axes(axes, a.shape(), "squeeze");
  Shape s;
  size_t k = 0;
  for (int i = 0; i < a.ndim(); ++i) {
    if (k < ax.size() && ax[k] == i) {
      if (a.shape()[i] != 1) {
        throw std::invalid_argument(fmt::format("[squeeze] axis {} has size {} (not 1) in shape {}",
                                                i, a.shape()[i], shape_str(a.shape())));
      }
      ++k;
    } else {
      s.push_back(a.shape()[i]);
    }
  }
  return reshape(a, s);
}

array squeeze(const array& a) {
  check_valid(a, "squeeze");
  Shape s;
  for (auto d : a.shape())
    if (d != 1) s.push_back(d);
  return reshape(a, s);
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw std::invalid_argument(fmt::format("[{}] shapes {} and {} cannot be broadcast together",
                                              op, shape_str(a), shape_str(b)));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

array broadcast_to(const array& a, const Shape& shape) {
  check_valid(a, "broadcast_to");
  if (a.shape() == shape) return a;
  bool ok = shape.size() >= a.shape().size();
  size_t lead = ok ? shape.size() - a.shape().size() : 0;
  for (size_t i = 0; ok && i < a.shape().size(); ++i) {
    ok = a.shape()[i] == shape[lead + i] || a.shape()[i] == 1;
  }
  if (!ok) {
    throw std::invalid_argument(fmt::format("[broadcast_to] cannot broadcast shape {} to {}",
                                            shape_str(a.shape()), shape_str(shape)));
  }
  // The size check of the new shape names broadcast_to unless an op that
  // calls it is being built (its own name then).
  PublicOpScope scope("broadcast_to");
  return array(shape, a.dtype(), std::make_shared<Broadcast>(shape), {a});
}

std::vector<array> broadcast_arrays(const std::vector<array>& arrays) {
  Shape s;
  for (auto& a : arrays) {
    check_valid(a, "broadcast_arrays");
    s = broadcast_shapes(s, a.shape(), "broadcast_arrays");
  }
  std::vector<array> out;
  for (auto& a : arrays) out.push_back(broadcast_to(a, s));
  return out;
}

array slice(const array& a, const Shape& start, const Shape& stop, const Shape& step) {
  check_valid(a, "slice");
  const int nd = a.ndim();
  if (static_cast<int>(start.size()) > nd || static_cast<int>(stop.size()) > nd ||
      static_cast<int>(step.size()) > nd || start.size() != stop.size() ||
      (!step.empty() && step.size() != start.size())) {
    throw std::invalid_argument(fmt::format(
        "[slice] start {}, stop {}, step {} do not match array of shape {}", shape_str(start),
        shape_str(stop), shape_str(step), shape_str(a.shape())));
  }
  Shape first(nd, 0), steps(nd, 1), out(a.shape());
  bool identity = true;
  for (size_t i = 0; i < start.size(); ++i) {
    int64_t n = a.shape()[i];
    int64_t st = step.empty() ? 1 : step[i];
    if (st == 0) throw std::invalid_argument("[slice] step cannot be zero");
    // numpy clamping rules for positive and negative steps.
    auto clamp = [&](int64_t v, int64_t lo, int64_t hi) {
      if (v < 0) v += n;
      return std::clamp(v, lo, hi);
    };
    int64_t b, e, len;
    // ceil(span / |step|) as 1 + (span - 1) / |step|: no overflow for
    // steps near INT64_MAX or INT64_MIN (whose magnitude is > any span).
    if (st > 0) {
      b = clamp(start[i], 0, n);
      e = clamp(stop[i], 0, n);
      len = e > b ? 1 + (e - b - 1) / st : 0;
    } else {
      b = clamp(start[i], -1, n - 1);
      e = clamp(stop[i], -1, n - 1);
      if (stop[i] < -n) e = -1;
      len = b > e ? 1 + (b - e - 1) / (st == INT64_MIN ? INT64_MAX : -st) : 0;
    }
    // One element or none: the step never moves, and stride * step must not overflow.
    if (len <= 1) st = 1;
    first[i] = b;
    steps[i] = st;
    out[i] = len;
    identity = identity && b == 0 && st == 1 && len == n;
  }
  if (identity) return a;
  return array(out, a.dtype(), std::make_shared<Slice>(std::move(first), std::move(steps), out),
               {a});
}

array slice_axis(const array& a, int axis, int64_t start, int64_t stop, int64_t step) {
  check_valid(a, "slice_axis");
  int ax = normalize_axis(axis, a.shape(), "slice_axis");
  Shape b(ax + 1, 0), e(a.shape().begin(), a.shape().begin() + ax + 1), s(ax + 1, 1);
  b[ax] = start;
  e[ax] = stop;
  s[ax] = step;
  return as_public_op("slice_axis", [&] { return slice(a, b, e, s); });
}

array flip(const array& a, const std::vector<int>& axes) {
  check_valid(a, "flip");
  std::vector<int> ax = normalize_axes(axes, a.shape(), "flip");
  int nd = a.ndim();
  Shape b(nd, 0), e(a.shape()), s(nd, 1);
  for (int i : ax) {
    b[i] = a.shape()[i] - 1;
    e[i] = -a.shape()[i] - 1;
    s[i] = -1;
  }
  return slice(a, b, e, s);
}

}  // namespace mfx

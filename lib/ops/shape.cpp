// Shape ops that join, cut or replicate arrays: concatenate, stack, split,
// pad, repeat, tile. Split is slices (views); repeat and tile are
// broadcast + reshape, so they need no kernel or gradient of their own.
#include <algorithm>

#include "ops/op_utils.h"
#include "ops/public_op.h"
#include "shape_check.h"
#include "primitives/shape.h"

namespace mfx {

namespace {

// "(2,3), (4)" for errors that concern a list of arrays.
std::string shapes_str(const std::vector<array>& arrays) {
  std::vector<std::string> parts;
  for (const array& a : arrays) parts.push_back(shape_str(a.shape()));
  return fmt::format("{}", fmt::join(parts, ", "));
}

void check_list(const std::vector<array>& arrays, const char* op) {
  if (arrays.empty()) {
    throw std::invalid_argument(fmt::format("[{}] needs at least one array, got none", op));
  }
  for (const array& a : arrays) check_valid(a, op);
}

}  // namespace

array concatenate(const std::vector<array>& arrays, int axis) {
  check_list(arrays, "concatenate");
  const Shape& first = arrays[0].shape();
  if (first.empty()) {
    throw std::invalid_argument(
        fmt::format("[concatenate] zero-dimensional arrays cannot be concatenated, got shapes {}",
                    shapes_str(arrays)));
  }
  for (const array& a : arrays) {
    if (a.ndim() != static_cast<int>(first.size())) {
      throw std::invalid_argument(fmt::format(
          "[concatenate] all arrays must have the same number of dimensions, got shapes {}",
          shapes_str(arrays)));
    }
  }
  const int ax = normalize_axis(axis, first, "concatenate");
  Shape out = first;
  out[ax] = 0;
  Dtype dtype = arrays[0].dtype();
  for (const array& a : arrays) {
    for (int d = 0; d < a.ndim(); ++d) {
      if (d != ax && a.shape()[d] != first[d]) {
        throw std::invalid_argument(
            fmt::format("[concatenate] shapes {} must match in every dimension except axis {}",
                        shapes_str(arrays), ax));
      }
    }
    out[ax] = checked_dim_add(out[ax], a.shape()[ax], "concatenate");
    dtype = promote_types(dtype, a.dtype());
  }
  std::vector<array> inputs;
  for (const array& a : arrays) inputs.push_back(astype(a, dtype));
  if (inputs.size() == 1) return inputs[0];
  return array(std::move(out), dtype, std::make_shared<Concatenate>(ax), std::move(inputs));
}

array stack(const std::vector<array>& arrays, int axis) {
  check_list(arrays, "stack");
  for (const array& a : arrays) {
    if (a.shape() != arrays[0].shape()) {
      throw std::invalid_argument(
          fmt::format("[stack] all arrays must have the same shape, got {}", shapes_str(arrays)));
    }
  }
  // The new axis may be ndim (append), so normalise against ndim + 1.
  const int ax = normalize_axis(axis, Shape(arrays[0].ndim() + 1, 1), "stack");
  std::vector<array> expanded;
  for (const array& a : arrays) expanded.push_back(expand_dims(a, ax));
  return concatenate(expanded, ax);
}

std::vector<array> split(const array& a, int num_splits, int axis) {
  check_valid(a, "split");
  const int ax = normalize_axis(axis, a.shape(), "split");
  if (num_splits <= 0) {
    throw std::invalid_argument(
        fmt::format("[split] number of splits must be positive, got {}", num_splits));
  }
  const int64_t n = a.shape()[ax];
  if (n % num_splits != 0) {
    throw std::invalid_argument(fmt::format(
        "[split] array of shape {} cannot be split into {} equal parts along axis {} (size {})",
        shape_str(a.shape()), num_splits, ax, n));
  }
  const int64_t part = n / num_splits;
  std::vector<array> out;
  for (int i = 0; i < num_splits; ++i) out.push_back(slice_axis(a, ax, i * part, (i + 1) * part));
  return out;
}

std::vector<array> split(const array& a, const std::vector<int64_t>& indices, int axis) {
  check_valid(a, "split");
  const int ax = normalize_axis(axis, a.shape(), "split");
  // numpy.split: part i is a[bounds[i]:bounds[i+1]] with Python slice rules
  // (negative bounds count from the end, out-of-range bounds clamp).
  std::vector<int64_t> bounds{0};
  bounds.insert(bounds.end(), indices.begin(), indices.end());
  bounds.push_back(a.shape()[ax]);
  std::vector<array> out;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    out.push_back(slice_axis(a, ax, bounds[i], bounds[i + 1]));
  }
  return out;
}

array pad(const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_width,
          const array& value) {
  check_valid(a, "pad");
  check_valid(value, "pad");
  std::vector<std::pair<int64_t, int64_t>> width = pad_width;
  // Like numpy, one (before, after) pair applies to every axis.
  if (width.size() == 1 && a.ndim() > 1) width.assign(a.ndim(), pad_width[0]);
  if (static_cast<int>(width.size()) != a.ndim()) {
    throw std::invalid_argument(
        fmt::format("[pad] {} (before, after) pairs given for array of shape {} ({} axes)",
                    width.size(), shape_str(a.shape()), a.ndim()));
  }
  if (value.size() != 1) {
    throw std::invalid_argument(fmt::format("[pad] the pad value must be a scalar, got shape {}",
                                            shape_str(value.shape())));
  }
  Shape low, high, out;
  bool identity = true;
  for (int i = 0; i < a.ndim(); ++i) {
    auto [lo, hi] = width[i];
    if (lo < 0 || hi < 0) {
      throw std::invalid_argument(
          fmt::format("[pad] negative pad width ({}, {}) on axis {} for array of shape {}", lo, hi,
                      i, shape_str(a.shape())));
    }
    low.push_back(lo);
    high.push_back(hi);
    out.push_back(checked_dim_add(checked_dim_add(a.shape()[i], lo, "pad"), hi, "pad"));
    identity = identity && lo == 0 && hi == 0;
  }
  if (identity) return a;
  array v = reshape(astype(value, a.dtype()), {});
  return array(std::move(out), a.dtype(), std::make_shared<Pad>(std::move(low), std::move(high)),
               {a, v});
}

array repeat(const array& a, int64_t repeats, int axis) {
  check_valid(a, "repeat");
  const int ax = normalize_axis(axis, a.shape(), "repeat");
  if (repeats < 0) {
    throw std::invalid_argument(
        fmt::format("[repeat] repeats must be non-negative, got {} for shape {}", repeats,
                    shape_str(a.shape())));
  }
  if (repeats == 1) return a;
  Shape out = a.shape();
  out[ax] = checked_dim_mul(out[ax], repeats, "repeat");
  // (.., n, ..) -> (.., n, 1, ..) -> broadcast (.., n, r, ..) -> (.., n*r, ..).
  return as_public_op("repeat", [&] {
    array e = expand_dims(a, ax + 1);
    Shape b = e.shape();
    b[ax + 1] = repeats;
    return reshape(broadcast_to(e, b), out);
  });
}

array tile(const array& a, const std::vector<int64_t>& reps) {
  check_valid(a, "tile");
  for (int64_t r : reps) {
    if (r < 0) {
      throw std::invalid_argument(
          fmt::format("[tile] negative repetition in reps ({}) for shape {}", fmt::join(reps, ","),
                      shape_str(a.shape())));
    }
  }
  // numpy.tile: the shorter of a.shape and reps is padded with leading 1s.
  const size_t nd = std::max(static_cast<size_t>(a.ndim()), reps.size());
  Shape shape(nd - a.ndim(), 1);
  shape.insert(shape.end(), a.shape().begin(), a.shape().end());
  std::vector<int64_t> r(nd - reps.size(), 1);
  r.insert(r.end(), reps.begin(), reps.end());
  // Interleave: (1, s0, 1, s1, ..) broadcast to (r0, s0, r1, s1, ..), then
  // merge each pair into r_i * s_i.
  Shape inter, bcast, out;
  for (size_t i = 0; i < nd; ++i) {
    inter.insert(inter.end(), {1, shape[i]});
    bcast.insert(bcast.end(), {r[i], shape[i]});
    out.push_back(checked_dim_mul(r[i], shape[i], "tile"));
  }
  if (out == a.shape()) return a;
  return as_public_op("tile", [&] { return reshape(broadcast_to(reshape(a, inter), bcast), out); });
}

}  // namespace mfx

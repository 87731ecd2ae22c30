#include "criteria/criteria_common.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "mfx/ops.h"

namespace mfx::criteria::detail {
namespace {

std::string layer_str(int layer) {
  return layer < 0 ? std::string() : " (layer " + std::to_string(layer) + ")";
}

}  // namespace

void fail(const std::string& fn, const std::string& what) {
  throw std::invalid_argument("[" + fn + "] " + what);
}

void check_floating(const std::string& fn, const char* name, const array& a, int ndim) {
  if (!a.valid()) fail(fn, std::string(name) + " is a null array");
  if (a.ndim() != ndim) {
    fail(fn, std::string(name) + " must be " + std::to_string(ndim) + "-d, got shape " +
                 shape_str(a.shape()));
  }
  if (a.dtype() != float32 && a.dtype() != float64) {
    fail(fn, std::string(name) + " must be float32 or float64, got " +
                 std::string(dtype_name(a.dtype())));
  }
}

void check_layer(const std::string& fn, const array& logits, const array& boxes, const Targets& t,
                 int layer) {
  const std::string at = layer_str(layer);
  check_floating(fn, ("logits" + at).c_str(), logits, 3);
  check_floating(fn, ("boxes" + at).c_str(), boxes, 3);
  check_floating(fn, "target boxes", t.boxes, 3);
  if (!t.labels.valid() || !t.mask.valid()) fail(fn, "target labels or mask is a null array");
  const int64_t B = logits.shape(0), N = logits.shape(1);
  if (boxes.shape() != Shape{B, N, 4}) {
    fail(fn, "boxes" + at + " shape " + shape_str(boxes.shape()) + " does not match logits " +
                 shape_str(logits.shape()) + " (expected " + shape_str({B, N, 4}) + ")");
  }
  if (t.labels.ndim() != 2 || !is_integral(t.labels.dtype())) {
    fail(fn, "target labels must be a 2-d integer array [B, M], got shape " +
                 shape_str(t.labels.shape()) + " " + std::string(dtype_name(t.labels.dtype())));
  }
  const int64_t M = t.labels.shape(1);
  if (t.labels.shape(0) != B) {
    fail(fn, "target labels " + shape_str(t.labels.shape()) + " and logits" + at + " " +
                 shape_str(logits.shape()) + " disagree on the batch size");
  }
  if (t.boxes.shape() != Shape{B, M, 4}) {
    fail(fn, "target boxes shape " + shape_str(t.boxes.shape()) + " does not match labels " +
                 shape_str(t.labels.shape()) + " (expected " + shape_str({B, M, 4}) + ")");
  }
  if (t.mask.shape() != Shape{B, M} || t.mask.dtype() != bool_) {
    fail(fn, "target mask must be bool " + shape_str({B, M}) + ", got " +
                 shape_str(t.mask.shape()) + " " + std::string(dtype_name(t.mask.dtype())));
  }
}

void check_outputs(const std::string& fn, const DecoderOutputs& out, const Targets& t,
                   bool need_hidden) {
  const size_t L = out.logits.size();
  if (L == 0) fail(fn, "no decoder layers (logits is empty)");
  if (out.boxes.size() != L || (need_hidden && out.hidden.size() != L)) {
    fail(fn, "decoder outputs have " + std::to_string(L) + " logits, " +
                 std::to_string(out.boxes.size()) + " boxes and " +
                 std::to_string(out.hidden.size()) + " hidden entries; one per layer is needed");
  }
  for (size_t l = 0; l < L; ++l) {
    const int li = static_cast<int>(l);
    check_layer(fn, out.logits[l], out.boxes[l], t, li);
    if (out.logits[l].shape() != out.logits[0].shape()) {
      fail(fn, "logits (layer " + std::to_string(l) + ") shape " +
                   shape_str(out.logits[l].shape()) + " differs from layer 0 " +
                   shape_str(out.logits[0].shape()));
    }
    if (need_hidden) {
      const array& h = out.hidden[l];
      check_floating(fn, ("hidden (layer " + std::to_string(l) + ")").c_str(), h, 3);
      if (h.shape(0) != out.logits[l].shape(0) || h.shape(1) != out.logits[l].shape(1) ||
          h.shape() != out.hidden[0].shape()) {
        fail(fn, "hidden (layer " + std::to_string(l) + ") shape " + shape_str(h.shape()) +
                     " does not match logits " + shape_str(out.logits[l].shape()) +
                     " and layer 0 hidden " + shape_str(out.hidden[0].shape()));
      }
    }
  }
}

Targets sanitize(const Targets& t) {
  const Dtype bt = t.boxes.dtype();
  array pad_box = array({0.5, 0.5, 1.0, 1.0}, Shape{4}, bt);
  array m = t.mask;
  return Targets{where(m, astype(t.labels, int32), zeros({}, int32)),
                 where(expand_dims(m, -1), t.boxes, pad_box), m};
}

namespace {

void check_given(const std::string& fn, const std::optional<double>& given) {
  if (given && !(*given > 0 && std::isfinite(*given))) {
    fail(fn, "num_boxes must be positive and finite, got " + std::to_string(*given));
  }
}

}  // namespace

double num_boxes(const std::string& fn, const Targets& t, const StepInputs& in) {
  std::optional<double> given = in.num_boxes;
  if (in.num_boxes_value) {
    if (in.num_boxes_value->ndim() != 0) {
      fail(fn,
           "num_boxes_value must be a scalar, got shape " + shape_str(in.num_boxes_value->shape()));
    }
    given = in.num_boxes_value->item<double>();
  }
  check_given(fn, given);
  if (given) return *given;
  const double count = sum(astype(t.mask, float64)).item<double>();
  return std::max(count, 1.0);
}

array num_boxes_array(const std::string& fn, const Targets& t, const std::optional<double>& given,
                      Dtype dtype) {
  check_given(fn, given);
  if (given) return array(*given, dtype);
  return maximum(sum(astype(t.mask, dtype)), array(1.0, dtype));
}

array pow_gamma(const array& x, double gamma) {
  if (gamma == 2.0) return square(x);
  return power(x, weak_scalar(gamma, x));
}

}  // namespace mfx::criteria::detail

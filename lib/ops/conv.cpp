// conv2d (the Conv2d primitive), its input and weight gradients
// (Conv2dInputGrad, Conv2dWeightGrad) and conv_transpose2d (the input
// gradient of the convolution it transposes).
#include "primitives/conv.h"
#include "mfx/nn.h"
#include "ops/op_utils.h"

namespace mfx {

namespace {

std::string pair_str(Pair p) {
  return fmt::format("({},{})", p.first, p.second);
}

void check_pair(Pair p, int64_t min, const char* what, const char* op) {
  if (p.first < min || p.second < min) {
    throw std::invalid_argument(
        fmt::format("[{}] {} must be >= {}, got {}", op, what, min, pair_str(p)));
  }
}

// Promoted floating dtype of input and weight; integers are rejected.
Dtype conv_dtype(const array& x, const array& w, const char* op) {
  if (!is_floating(x.dtype()) || !is_floating(w.dtype())) {
    throw std::invalid_argument(fmt::format(
        "[{}] integer and bool inputs are not supported, got input {} {} and weight {} {}", op,
        dtype_name(x.dtype()), shape_str(x.shape()), dtype_name(w.dtype()), shape_str(w.shape())));
  }
  return promote_types(x.dtype(), w.dtype());
}

void check_rank4(const array& x, const array& w, const char* op, const char* wlayout) {
  if (x.ndim() != 4 || w.ndim() != 4) {
    throw std::invalid_argument(
        fmt::format("[{}] expected input [N,C,H,W] and weight {}, got shapes {} and {}", op,
                    wlayout, shape_str(x.shape()), shape_str(w.shape())));
  }
  if (w.shape()[2] < 1 || w.shape()[3] < 1) {
    throw std::invalid_argument(
        fmt::format("[{}] empty kernel in weight of shape {}", op, shape_str(w.shape())));
  }
}

}  // namespace

array conv2d(const array& x, const array& w, Pair stride, Pair padding, Pair dilation, int groups) {
  check_valid(x, "conv2d");
  check_valid(w, "conv2d");
  check_rank4(x, w, "conv2d", "[O,C/groups,kH,kW]");
  Dtype t = conv_dtype(x, w, "conv2d");
  check_pair(stride, 1, "stride", "conv2d");
  check_pair(dilation, 1, "dilation", "conv2d");
  check_pair(padding, 0, "padding", "conv2d");
  if (groups < 1)
    throw std::invalid_argument(fmt::format("[conv2d] groups must be >= 1, got {}", groups));
  const int64_t n = x.shape()[0], c = x.shape()[1], h = x.shape()[2], wd = x.shape()[3];
  const int64_t o = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3];
  if (c % groups != 0 || o % groups != 0 || w.shape()[1] * groups != c) {
    throw std::invalid_argument(fmt::format(
        "[conv2d] input {} with {} channels and weight {} do not match for groups={} (need C "
        "and O divisible by groups and weight.shape[1] == C/groups)",
        shape_str(x.shape()), c, shape_str(w.shape()), groups));
  }
  const int64_t eh = h + 2 * padding.first - dilation.first * (kh - 1) - 1;
  const int64_t ew = wd + 2 * padding.second - dilation.second * (kw - 1) - 1;
  if (eh < 0 || ew < 0) {
    throw std::invalid_argument(fmt::format(
        "[conv2d] kernel ({},{}) with dilation {} is larger than the padded input ({},{}) of "
        "input {}",
        kh, kw, pair_str(dilation), h + 2 * padding.first, wd + 2 * padding.second,
        shape_str(x.shape())));
  }
  Shape out{n, o, eh / stride.first + 1, ew / stride.second + 1};
  return array(out, t, std::make_shared<Conv2d>(stride, padding, dilation, groups),
               {astype(x, t), astype(w, t)});
}

array conv2d_input_grad(const array& ct, const array& w, Pair input_size, Pair stride,
                        Pair padding, Pair dilation, int groups) {
  const char* op = "conv2d_input_grad";
  check_valid(ct, op);
  check_valid(w, op);
  if (ct.ndim() != 4 || w.ndim() != 4) {
    throw std::invalid_argument(
        fmt::format("[{}] expected cotangent [N,O,Ho,Wo] and weight [O,C/groups,kH,kW], got "
                    "shapes {} and {}",
                    op, shape_str(ct.shape()), shape_str(w.shape())));
  }
  const Dtype t = conv_dtype(ct, w, op);
  check_pair(input_size, 1, "input_size", op);
  check_pair(stride, 1, "stride", op);
  check_pair(dilation, 1, "dilation", op);
  check_pair(padding, 0, "padding", op);
  const int64_t o = w.shape()[0], kh = w.shape()[2], kw = w.shape()[3];
  const int64_t eh = input_size.first + 2 * padding.first - dilation.first * (kh - 1) - 1;
  const int64_t ew = input_size.second + 2 * padding.second - dilation.second * (kw - 1) - 1;
  if (groups < 1 || o % groups != 0 || ct.shape()[1] != o || kh < 1 || kw < 1 || eh < 0 ||
      ew < 0 || ct.shape()[2] != eh / stride.first + 1 || ct.shape()[3] != ew / stride.second + 1) {
    throw std::invalid_argument(fmt::format(
        "[{}] cotangent {} is not the output of conv2d of a ({},{}) input with weight {}, "
        "stride {}, padding {}, dilation {}, groups={}",
        op, shape_str(ct.shape()), input_size.first, input_size.second, shape_str(w.shape()),
        pair_str(stride), pair_str(padding), pair_str(dilation), groups));
  }
  Shape out{ct.shape()[0], w.shape()[1] * groups, input_size.first, input_size.second};
  return array(out, t, std::make_shared<Conv2dInputGrad>(input_size, stride, padding, dilation, groups),
               {astype(ct, t), astype(w, t)});
}

array conv2d_weight_grad(const array& x, const array& ct, Pair kernel, Pair stride, Pair padding,
                         Pair dilation, int groups) {
  const char* op = "conv2d_weight_grad";
  check_valid(x, op);
  check_valid(ct, op);
  if (x.ndim() != 4 || ct.ndim() != 4 || !is_floating(x.dtype()) || !is_floating(ct.dtype())) {
    throw std::invalid_argument(
        fmt::format("[{}] expected floating input [N,C,H,W] and cotangent [N,O,Ho,Wo], got {} {} "
                    "and {} {}",
                    op, dtype_name(x.dtype()), shape_str(x.shape()), dtype_name(ct.dtype()),
                    shape_str(ct.shape())));
  }
  check_pair(kernel, 1, "kernel", op);
  check_pair(stride, 1, "stride", op);
  check_pair(dilation, 1, "dilation", op);
  check_pair(padding, 0, "padding", op);
  const int64_t n = x.shape()[0], c = x.shape()[1], o = ct.shape()[1];
  const int64_t eh = x.shape()[2] + 2 * padding.first - dilation.first * (kernel.first - 1) - 1;
  const int64_t ew = x.shape()[3] + 2 * padding.second - dilation.second * (kernel.second - 1) - 1;
  if (groups < 1 || c % groups != 0 || o % groups != 0 || ct.shape()[0] != n || eh < 0 ||
      ew < 0 || ct.shape()[2] != eh / stride.first + 1 || ct.shape()[3] != ew / stride.second + 1) {
    throw std::invalid_argument(fmt::format(
        "[{}] cotangent {} is not the output of conv2d of input {} with kernel {}, stride {}, "
        "padding {}, dilation {}, groups={}",
        op, shape_str(ct.shape()), shape_str(x.shape()), pair_str(kernel), pair_str(stride),
        pair_str(padding), pair_str(dilation), groups));
  }
  Shape out{o, c / groups, kernel.first, kernel.second};
  return array(out, x.dtype(),
               std::make_shared<Conv2dWeightGrad>(kernel, stride, padding, dilation, groups),
               {x, astype(ct, x.dtype())});
}

array conv_transpose2d(const array& x, const array& w, Pair stride, Pair padding,
                       Pair output_padding, Pair dilation, int groups) {
  const char* op = "conv_transpose2d";
  check_valid(x, op);
  check_valid(w, op);
  check_rank4(x, w, op, "[C,O/groups,kH,kW]");
  Dtype t = conv_dtype(x, w, op);
  check_pair(stride, 1, "stride", op);
  check_pair(dilation, 1, "dilation", op);
  check_pair(padding, 0, "padding", op);
  check_pair(output_padding, 0, "output_padding", op);
  if (groups < 1)
    throw std::invalid_argument(fmt::format("[{}] groups must be >= 1, got {}", op, groups));
  if (output_padding.first >= std::max(stride.first, dilation.first) ||
      output_padding.second >= std::max(stride.second, dilation.second)) {
    throw std::invalid_argument(
        fmt::format("[{}] output_padding {} must be smaller than stride {} or dilation {}", op,
                    pair_str(output_padding), pair_str(stride), pair_str(dilation)));
  }
  const int64_t c = x.shape()[1], h = x.shape()[2], wd = x.shape()[3];
  const int64_t kh = w.shape()[2], kw = w.shape()[3];
  if (w.shape()[0] != c || c % groups != 0) {
    throw std::invalid_argument(
        fmt::format("[{}] input {} with {} channels and weight {} do not match for groups={} (need "
                    "weight.shape[0] == C and C divisible by groups)",
                    op, shape_str(x.shape()), c, shape_str(w.shape()), groups));
  }
  const int64_t ho = (h - 1) * stride.first - 2 * padding.first + dilation.first * (kh - 1) +
                     output_padding.first + 1;
  const int64_t wo = (wd - 1) * stride.second - 2 * padding.second + dilation.second * (kw - 1) +
                     output_padding.second + 1;
  if (h < 1 || wd < 1 || ho < 1 || wo < 1) {
    throw std::invalid_argument(
        fmt::format("[{}] input {} with weight {}, stride {}, padding {} gives a non-positive "
                    "output size ({},{})",
                    op, shape_str(x.shape()), shape_str(w.shape()), pair_str(stride),
                    pair_str(padding), ho, wo));
  }
  // The input gradient of the convolution from [N,O,Ho,Wo] with weights w.
  // With output_padding >= stride (allowed below the dilation) that
  // convolution has more output rows than x: they are zero rows of its
  // cotangent.
  const int64_t hx = (ho + 2 * padding.first - dilation.first * (kh - 1) - 1) / stride.first + 1;
  const int64_t wx = (wo + 2 * padding.second - dilation.second * (kw - 1) - 1) / stride.second + 1;
  array xi = astype(x, t);
  if (hx > h || wx > wd) xi = pad(xi, {{0, 0}, {0, 0}, {0, hx - h}, {0, wx - wd}});
  return conv2d_input_grad(xi, astype(w, t), {ho, wo}, stride, padding, dilation, groups);
}

}  // namespace mfx

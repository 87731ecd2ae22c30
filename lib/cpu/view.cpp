// CPU evaluation of the view primitives: new strides over the same buffer.
#include "cpu/copy.h"
#include "ops/op_utils.h"
#include "primitives/view.h"

namespace mfx {

void Reshape::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  array& o = out[0];
  if (x.flags().row_contiguous) {
    o.set_view(x, row_major_strides(o.shape()), 0, x.data_size(), array::Flags{true, true});
  } else {
    cpu::copy_into(x, o);  // the layout does not allow a view: materialise row-major
  }
}

void Transpose::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  Strides st(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) st[i] = x.strides()[axes_[i]];
  out[0].set_view(x, st, 0, x.data_size(), layout_flags(out[0].shape(), st, x.data_size()));
}

void Broadcast::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  const int nd = static_cast<int>(shape_.size());
  const int lead = nd - x.ndim();
  Strides st(nd, 0);
  for (int i = 0; i < x.ndim(); ++i) st[lead + i] = x.shape()[i] == 1 ? 0 : x.strides()[i];
  out[0].set_view(x, st, 0, x.data_size(), layout_flags(shape_, st, x.data_size()));
}

void Slice::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  array& o = out[0];
  Strides st(x.ndim());
  int64_t offset = 0;
  for (int i = 0; i < x.ndim(); ++i) {
    st[i] = x.strides()[i] * step_[i];
    if (o.shape()[i] > 0) offset += start_[i] * x.strides()[i];
  }
  int64_t span = layout_span(o.shape(), st);
  o.set_view(x, st, offset, span, layout_flags(o.shape(), st, span));
}

bool Reshape::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Reshape*>(&other);
  return o && o->shape_ == shape_;
}
bool Transpose::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Transpose*>(&other);
  return o && o->axes_ == axes_;
}
bool Broadcast::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Broadcast*>(&other);
  return o && o->shape_ == shape_;
}
bool Slice::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const Slice*>(&other);
  return o && o->start_ == start_ && o->step_ == step_ && o->out_shape_ == out_shape_;
}

}  // namespace mfx

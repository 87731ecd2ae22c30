// Parameters, names and equivalence of the detection sampling primitives.
#include "primitives/detection.h"

#include <fmt/format.h>

#include <typeinfo>

namespace mfx {

namespace {

std::string order_suffix(SampleOrder o) {
  return o.a == 0 && o.b == 0 ? "" : fmt::format("_d{}{}", o.a, o.b);
}

}  // namespace

std::string MSDeformAttnBase::suffix() const {
  return order_suffix(order_);
}

bool MSDeformAttnBase::is_equivalent(const Primitive& other) const {
  if (typeid(other) != typeid(*this)) return false;
  auto& o = static_cast<const MSDeformAttnBase&>(other);
  return o.shapes_ == shapes_ && o.order_ == order_;
}

std::string GridSampleBase::suffix() const {
  return order_suffix(order_);
}

bool GridSampleBase::is_equivalent(const Primitive& other) const {
  if (typeid(other) != typeid(*this)) return false;
  auto& o = static_cast<const GridSampleBase&>(other);
  return o.padding_ == padding_ && o.align_corners_ == align_corners_ && o.order_ == order_;
}

bool GridSampleScatter::is_equivalent(const Primitive& other) const {
  if (!GridSampleBase::is_equivalent(other)) return false;
  auto& o = static_cast<const GridSampleScatter&>(other);
  return o.height_ == height_ && o.width_ == width_;
}

}  // namespace mfx

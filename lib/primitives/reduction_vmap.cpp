// Batching rules of reductions and scans: the batch axis stays where it is
// and the reduced/scanned axes at or behind it shift by one.
#include "primitives/reduction.h"
#include "transforms/batching.h"

namespace mfx {
using batching::inserted;
using batching::past;

std::pair<std::vector<array>, std::vector<int>> Reduce::vmap(const std::vector<array>& inputs,
                                                             const std::vector<int>& axes,
                                                             const std::vector<array>& outputs) {
  const int b = axes[0];
  std::vector<int> reduced;
  for (int a : axes_) reduced.push_back(past(a, b));
  Shape shape = inserted(outputs[0].shape(), b, inputs[0].shape()[b]);
  return {{array(shape, out_dtype_, std::make_shared<Reduce>(op_, reduced, out_dtype_), inputs)},
          {b}};
}

std::pair<std::vector<array>, std::vector<int>> ArgReduce::vmap(const std::vector<array>& inputs,
                                                                const std::vector<int>& axes,
                                                                const std::vector<array>& outputs) {
  const int b = axes[0];
  Shape shape = inserted(outputs[0].shape(), b, inputs[0].shape()[b]);
  return {
      {array(shape, outputs[0].dtype(), std::make_shared<ArgReduce>(op_, past(axis_, b)), inputs)},
      {b}};
}

std::pair<std::vector<array>, std::vector<int>> Scan::vmap(const std::vector<array>& inputs,
                                                           const std::vector<int>& axes,
                                                           const std::vector<array>& outputs) {
  const int b = axes[0];
  Shape shape = inserted(outputs[0].shape(), b, inputs[0].shape()[b]);
  return {{array(shape, outputs[0].dtype(),
                 std::make_shared<Scan>(op_, past(axis_, b), reverse_, inclusive_), inputs)},
          {b}};
}

}  // namespace mfx

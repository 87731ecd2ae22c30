// The graph node behind an array handle (internal).
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "mfx/array.h"

namespace mfx {

struct array::Node {
  Shape shape;
  Dtype dtype = Dtype::float32;

  // Graph: present until evaluation.
  std::shared_ptr<Primitive> primitive;
  std::vector<array> inputs;
  // Multi-output primitives: every output node (self included) by position.
  std::vector<std::weak_ptr<Node>> siblings;
  std::shared_ptr<const std::vector<std::pair<Shape, Dtype>>> output_specs;
  int position = 0;

  // Data: present after evaluation.
  std::shared_ptr<Buffer> buffer;
  Strides strides;
  int64_t offset = 0;
  int64_t data_size = 0;
  Flags flags;

  Node() = default;
  ~Node();
};

}  // namespace mfx

#include "mfx/array.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <unordered_set>

#include "array_node.h"
#include "cpu/buffer_cache.h"
#include "cpu/copy.h"
#include "cuda/runtime.h"
#include "mfx/gpu.h"
#include "mfx/primitive.h"
#include "ops/public_op.h"
#include "shape_check.h"

namespace mfx {

Buffer::Buffer(size_t n, Device d) : nbytes(n), device(d) {
  if (d.type == Device::Type::gpu) {
    cuda::require_device(d.index, "Buffer");
    ptr = cuda::allocator(d.index).allocate(n, 0).ptr;
    return;
  }
  // 64-byte aligned blocks, recycled by the CPU buffer cache.
  ptr = cpu::acquire_buffer(n);
}

Buffer::~Buffer() {
  if (device.type == Device::Type::gpu) {
    // The allocator hands out blocks of round_size(nbytes) on stream 0.
    cuda::allocator_for_release(device.index)
        .release({ptr, cuda::CachingAllocator::round_size(nbytes), 0});
  } else {
    cpu::release_buffer(ptr, nbytes);
  }
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(s[i]);
  }
  return out + ")";
}

Strides row_major_strides(const Shape& shape) {
  Strides st(shape.size());
  int64_t acc = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    // Only a zero-size shape can overflow here (checked_size bounds the
    // rest); its strides are never used to address memory.
    if (__builtin_mul_overflow(acc, shape[i], &acc)) acc = 0;
  }
  return st;
}

// The size check of every graph node. The error names the public op being
// built, else the op of the primitive (the name is only made on failure).
static void check_node_shape(const Shape& shape, Dtype dtype, const Primitive* p) {
  if (size_fits(shape, dtype)) return;
  const char* op = current_public_op();
  checked_size(shape, dtype, op ? std::string(op) : op_name_of_primitive(p ? p->name() : "array"));
}

// Deep graphs (a chain of a million ops) must not recurse in destructors:
// inputs whose only owner is this node are unlinked onto an explicit stack.
array::Node::~Node() {
  if (inputs.empty()) return;
  std::vector<std::shared_ptr<Node>> stack;
  for (auto& in : inputs) stack.push_back(std::move(in.node_));
  inputs.clear();
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    if (n && n.use_count() == 1) {
      for (auto& in : n->inputs) stack.push_back(std::move(in.node_));
      n->inputs.clear();
    }
  }
}

array::array(const void* src, Shape shape, Dtype dt)
    : array(src, static_cast<size_t>(checked_size(shape, dt, "array")), shape, dt, dt) {}

array::array(const void* src, size_t count, Shape shape, Dtype src_dtype, Dtype dt) {
  int64_t n = checked_size(shape, dt, "array");
  if (static_cast<int64_t>(count) != n) {
    throw std::invalid_argument(fmt::format("[array] {} values given for shape {} which holds {}",
                                            count, shape_str(shape), n));
  }
  node_ = std::make_shared<Node>();
  node_->shape = std::move(shape);
  node_->dtype = dt;
  allocate();
  cpu::convert_contiguous(src, src_dtype, raw_data(), dt, n);
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive,
             std::vector<array> inputs) {
  check_node_shape(shape, dtype, primitive.get());
  node_ = std::make_shared<Node>();
  node_->shape = std::move(shape);
  node_->dtype = dtype;
  node_->primitive = std::move(primitive);
  node_->inputs = std::move(inputs);
}

array array::empty(Shape shape, Dtype dtype, Device device) {
  array a(std::move(shape), dtype, nullptr, {});
  a.allocate(device);
  return a;
}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                      std::shared_ptr<Primitive> primitive,
                                      std::vector<array> inputs) {
  std::vector<array> outs;
  auto specs = std::make_shared<std::vector<std::pair<Shape, Dtype>>>();
  for (size_t i = 0; i < shapes.size(); ++i) specs->emplace_back(shapes[i], dtypes[i]);
  for (size_t i = 0; i < shapes.size(); ++i) {
    array a(shapes[i], dtypes[i], primitive, inputs);
    a.node_->position = static_cast<int>(i);
    a.node_->output_specs = specs;
    outs.push_back(std::move(a));
  }
  for (auto& a : outs) {
    for (auto& b : outs) a.node_->siblings.push_back(b.node_);
  }
  return outs;
}

const array::Node& array::node() const {
  if (!node_) throw std::logic_error("[array] use of a null array handle");
  return *node_;
}

const Shape& array::shape() const {
  return node().shape;
}
int64_t array::shape(int dim) const {
  int nd = ndim();
  int d = dim < 0 ? dim + nd : dim;
  if (d < 0 || d >= nd) {
    throw std::invalid_argument(fmt::format("[array::shape] axis {} is out of range for shape {}",
                                            dim, shape_str(shape())));
  }
  return shape()[d];
}
int64_t array::size() const { return shape_size(shape()); }
Dtype array::dtype() const { return node().dtype; }

bool array::is_evaluated() const {
  return node().buffer != nullptr;
}
bool array::has_primitive() const {
  return node().primitive != nullptr;
}
Primitive& array::primitive() const {
  if (!node().primitive) throw std::logic_error("[array] array has no primitive");
  return *node_->primitive;
}
std::shared_ptr<Primitive> array::primitive_ptr() const {
  return node().primitive;
}
const std::vector<array>& array::inputs() const {
  return node().inputs;
}
int array::output_index() const {
  return node().position;
}

std::vector<array> array::outputs() const {
  const Node& n = node();
  if (n.siblings.empty()) return {*this};
  std::vector<array> outs;
  for (size_t i = 0; i < n.siblings.size(); ++i) {
    array a;
    a.node_ = n.siblings[i].lock();
    if (!a.node_) {
      // A sibling nobody holds any more: a placeholder receives its output.
      auto& spec = (*n.output_specs)[i];
      a = array(spec.first, spec.second, n.primitive, {});
    }
    outs.push_back(std::move(a));
  }
  return outs;
}

void array::detach() {
  Node& n = *node_;
  n.primitive.reset();
  // Release inputs iteratively (see ~Node).
  std::vector<array> old = std::move(n.inputs);
  n.inputs.clear();
  Node tmp;
  tmp.inputs = std::move(old);
  n.siblings.clear();
  n.output_specs.reset();
}

const Strides& array::strides() const {
  return node().strides;
}
array::Flags array::flags() const {
  return node().flags;
}
int64_t array::data_size() const {
  return node().data_size;
}
int64_t array::offset() const {
  return node().offset;
}
const std::shared_ptr<Buffer>& array::buffer() const {
  return node().buffer;
}
void* array::raw_data() const {
  const Node& n = node();
  if (!n.buffer) return nullptr;
  return static_cast<char*>(n.buffer->ptr) + n.offset * static_cast<int64_t>(size_of(n.dtype));
}

void array::allocate() {
  allocate(Device::cpu());
}

void array::allocate(Device device) {
  Node& n = *node_;
  int64_t count = size();
  n.buffer = std::make_shared<Buffer>(static_cast<size_t>(count) * size_of(n.dtype), device);
  n.strides = row_major_strides(n.shape);
  n.offset = 0;
  n.data_size = count;
  n.flags = Flags{true, true};
}

void array::set_view(const array& other, Strides strides, int64_t offset, int64_t data_size,
                     Flags flags) {
  set_data(other.buffer(), std::move(strides), other.offset() + offset, data_size, flags);
}

void array::set_data(std::shared_ptr<Buffer> buffer, Strides strides, int64_t offset,
                     int64_t data_size, Flags flags) {
  Node& n = *node_;
  n.buffer = std::move(buffer);
  n.strides = std::move(strides);
  n.offset = offset;
  n.data_size = data_size;
  n.flags = flags;
}

Device array::device() const {
  if (node().buffer) return node_->buffer->device;
  // Unevaluated: where eval() will run it (see the placement rules in gpu.h).
  std::vector<const Node*> stack{node_.get()};
  std::unordered_set<const Node*> seen;
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    if (n->buffer) {
      if (n->buffer->device.type == Device::Type::gpu) return n->buffer->device;
      continue;
    }
    if (n->primitive && n->primitive->device().type == Device::Type::gpu) {
      return n->primitive->device();
    }
    for (auto& in : n->inputs) stack.push_back(in.node_.get());
  }
  return Device::cpu();
}

bool array::on_gpu() const {
  const auto& b = node().buffer;
  return b && b->device.type == Device::Type::gpu;
}

template <Scalar T>
T array::item() const {
  if (size() != 1) {
    throw std::invalid_argument(
        fmt::format("[item] array of shape {} has {} elements, not 1", shape_str(shape()), size()));
  }
  eval();
  if (on_gpu()) return to_device(*this, Device::cpu()).item<T>();
  T out;
  cpu::convert_contiguous(raw_data(), dtype(), &out, dtype_of<T>, 1);
  return out;
}

template <Element T>
const T* array::data() const {
  if (dtype_of<T> != dtype()) {
    throw std::invalid_argument(fmt::format("[data] requested {} from an array of dtype {}",
                                            dtype_name(dtype_of<T>), dtype_name(dtype())));
  }
  eval();
  if (on_gpu()) {
    throw std::invalid_argument(
        fmt::format("[data] the array of shape {} lives on {}: host pointers need a host copy, "
                    "mfx::to_device(x, Device::cpu())",
                    shape_str(shape()), device().str()));
  }
  return static_cast<const T*>(raw_data());
}

template <Scalar T>
std::vector<T> array::to_vector() const {
  eval();
  try {
    return to_vector_unchecked<T>();
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(fmt::format("[to_vector] out of host memory copying an array of shape {}",
                                         shape_str(shape())));
  }
}

template <Scalar T>
std::vector<T> array::to_vector_unchecked() const {
  if (on_gpu()) return to_device(*this, Device::cpu()).to_vector<T>();
  if constexpr (std::is_same_v<T, bool>) {
    // std::vector<bool> is bit-packed: go through bytes.
    std::vector<uint8_t> bytes(static_cast<size_t>(size()));
    cpu::copy_to_row_major(*this, bytes.data(), Dtype::bool_);
    return std::vector<bool>(bytes.begin(), bytes.end());
  } else {
    std::vector<T> out(static_cast<size_t>(size()));
    cpu::copy_to_row_major(*this, out.data(), dtype_of<T>);
    return out;
  }
}

#define MFX_INSTANTIATE_ACCESSORS(T)        \
  template T array::item<T>() const;        \
  template const T* array::data<T>() const; \
  template std::vector<T> array::to_vector<T>() const;
MFX_INSTANTIATE_ACCESSORS(bool)
MFX_INSTANTIATE_ACCESSORS(uint8_t)
MFX_INSTANTIATE_ACCESSORS(int32_t)
MFX_INSTANTIATE_ACCESSORS(int64_t)
MFX_INSTANTIATE_ACCESSORS(float16_t)
MFX_INSTANTIATE_ACCESSORS(bfloat16_t)
MFX_INSTANTIATE_ACCESSORS(float)
MFX_INSTANTIATE_ACCESSORS(double)
#undef MFX_INSTANTIATE_ACCESSORS

}  // namespace mfx

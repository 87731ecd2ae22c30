// mfx::array: a cheap handle to a node of a lazy computation graph.
//
// Ops build graph nodes; eval() runs them. After evaluation a node keeps its
// data and drops its inputs, so evaluated graphs free themselves.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mfx/device.h"
#include "mfx/dtype.h"

namespace mfx {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

/// The largest array mfx makes, counted over its logical shape (broadcast
/// views included): 2^48 bytes, more than any allocator hands out and far
/// below where element counts times item sizes overflow int64. Every op
/// refuses a larger shape, or a negative dim, with std::invalid_argument
/// "[op] ..." naming the op and the shape, before any memory is touched.
inline constexpr int64_t kMaxArrayBytes = int64_t{1} << 48;

class Primitive;

/// Owned memory that one or more arrays view.
struct Buffer {
  void* ptr = nullptr;
  size_t nbytes = 0;
  Device device;
  explicit Buffer(size_t nbytes, Device device = Device::cpu());
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

/// "(3,4)" for error messages.
std::string shape_str(const Shape& s);

class array {
 public:
  /// A null handle; most operations on it throw.
  array() = default;

  /// A 0-d array holding one scalar.
  template <Scalar T>
  array(T value) : array(&value, Shape{}, dtype_of<T>) {}
  template <Scalar T>
  array(T value, Dtype dtype) : array(&value, 1, Shape{}, dtype_of<T>, dtype) {}

  /// A 1-d array from a list of values.
  template <Scalar T>
  array(std::initializer_list<T> values)
      : array(values.begin(), Shape{static_cast<int64_t>(values.size())}, dtype_of<T>) {}

  /// An array of the given shape from row-major values, converted to dtype.
  template <Scalar T>
  array(std::initializer_list<T> values, Shape shape, Dtype dtype = dtype_of<T>)
      : array(values.begin(), values.size(), std::move(shape), dtype_of<T>, dtype) {}
  template <Scalar T>
  array(const std::vector<T>& values, Shape shape, Dtype dtype = dtype_of<T>)
      : array(values.data(), values.size(), std::move(shape), dtype_of<T>, dtype) {}

  /// Copies `shape`-many row-major elements of type `src_dtype` from `data`.
  array(const void* data, Shape shape, Dtype src_dtype);
  /// Same, checking that `count` elements were given; converts to `dtype`.
  array(const void* data, size_t count, Shape shape, Dtype src_dtype, Dtype dtype);

  /// Graph-building constructor used by ops: an unevaluated output of `primitive`.
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
  /// Several sibling outputs of one primitive (e.g. split, topk).
  static std::vector<array> make_arrays(std::vector<Shape> shapes, std::vector<Dtype> dtypes,
                                        std::shared_ptr<Primitive> primitive,
                                        std::vector<array> inputs);
  /// An evaluated array over a fresh row-major buffer on `device`, its bytes
  /// uninitialised: the destination kernels, copies and loaders write into.
  /// (Same as constructing with no primitive and calling allocate(device).)
  static array empty(Shape shape, Dtype dtype, Device device = Device::cpu());

  // ---- metadata (available before evaluation) ----
  const Shape& shape() const;
  /// Size of one dimension; negative dims count from the end.
  int64_t shape(int dim) const;
  int ndim() const { return static_cast<int>(shape().size()); }
  int64_t size() const;
  Dtype dtype() const;
  size_t itemsize() const { return size_of(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(size()) * itemsize(); }
  bool valid() const { return node_ != nullptr; }

  // ---- evaluation and data ----
  /// Runs the graph this array depends on. (const: evaluation fills the
  /// shared node, the handle's value does not change.)
  void eval() const;
  bool is_evaluated() const;

  /// Where the data lives once evaluated: the buffer's device, or for an
  /// unevaluated array the device eval() will run it on (include/mfx/gpu.h).
  Device device() const;
  /// True when the array is evaluated and its data lives on a GPU.
  bool on_gpu() const;

  /// The value of a one-element array, converted to T (evaluates; a GPU
  /// array is copied to the host, synchronously).
  template <Scalar T>
  T item() const;

  /// Pointer to the first element (evaluates). T must be the array's dtype.
  /// The layout is given by strides(); use to_vector() for a row-major copy.
  /// Throws for a GPU array: copy it with to_device(x, Device::cpu()).
  template <Element T>
  const T* data() const;

  /// Row-major copy of all elements converted to T (evaluates; a GPU array
  /// is copied to the host, synchronously).
  template <Scalar T>
  std::vector<T> to_vector() const;

  /// Element strides of the evaluated layout (views may be non-contiguous).
  const Strides& strides() const;

  // ---- graph (used by primitives, transforms and the compiler) ----
  bool has_primitive() const;
  Primitive& primitive() const;
  std::shared_ptr<Primitive> primitive_ptr() const;
  const std::vector<array>& inputs() const;
  /// All outputs of this array's primitive, this array included, in order.
  std::vector<array> outputs() const;
  /// Position of this array among its primitive's outputs.
  int output_index() const;
  /// Stable identity of the node (for hashing and maps).
  uintptr_t id() const { return reinterpret_cast<uintptr_t>(node_.get()); }
  /// Drops primitive and inputs (after evaluation).
  void detach();

  // ---- storage (used by kernels) ----
  struct Flags {
    bool contiguous = true;      // elements fill [data, data + data_size) without gaps
    bool row_contiguous = true;  // standard row-major layout
  };
  Flags flags() const;
  /// Number of elements the strided view spans in its buffer.
  int64_t data_size() const;
  /// Element offset of the first element in the buffer.
  int64_t offset() const;
  const std::shared_ptr<Buffer>& buffer() const;
  /// Pointer to the first element, no evaluation (a device pointer for GPU arrays).
  void* raw_data() const;
  template <Element T>
  T* data_ptr() const {
    return static_cast<T*>(raw_data());
  }
  /// Allocates a fresh row-contiguous buffer for this array (host memory).
  void allocate();
  /// Same on `device` (GPU memory comes from the device's caching allocator).
  void allocate(Device device);
  /// Makes this array a view of `other`'s buffer with the given layout.
  void set_view(const array& other, Strides strides, int64_t offset, int64_t data_size,
                Flags flags);
  /// Installs a buffer with a full layout description.
  void set_data(std::shared_ptr<Buffer> buffer, Strides strides, int64_t offset, int64_t data_size,
                Flags flags);

  struct Node;

 private:
  const Node& node() const;
  template <Scalar T>
  std::vector<T> to_vector_unchecked() const;
  std::shared_ptr<Node> node_;
  friend struct Node;
};

/// Evaluates several arrays together (shared subgraphs run once).
void eval(std::vector<array> arrays);

/// Row-strides for a shape.
Strides row_major_strides(const Shape& shape);

}  // namespace mfx

// Rewrites of small scatter-adds and matmuls (see small_contractions.h).
#include "compiler/jit/small_contractions.h"

#include <fmt/format.h>

#include <numeric>

#include "cpu/copy.h"
#include "mfx/ops.h"
#include "primitives/elementwise.h"
#include "primitives/indexing.h"
#include "primitives/linalg.h"
#include "primitives/reduction.h"
#include "primitives/view.h"

namespace mfx::jit_detail {

namespace {

template <typename T>
void check_indices(const array& idx, int64_t size) {
  const array dense = idx.flags().row_contiguous ? idx : cpu::row_contiguous(idx);
  const T* p = dense.data_ptr<T>();
  for (int64_t i = 0; i < dense.size(); ++i) {
    const int64_t v = static_cast<int64_t>(p[i]);
    if (v < -size || v >= size) {
      throw std::invalid_argument(
          fmt::format("[scatter_add] index {} is out of range for an axis with size {}", v, size));
    }
  }
}

// Appends nodes to a graph; every helper returns the new value id.
class Emit {
 public:
  explicit Emit(Graph& g) : g_(g) {}

  int node(std::shared_ptr<Primitive> p, std::vector<int> in, const Shape& shape, Dtype dtype,
           int out = -1) {
    if (out < 0) out = g_.add_value(shape, dtype);
    g_.nodes.push_back({std::move(p), std::move(in), {out}});
    return out;
  }
  int constant(array data) {
    data.eval();
    const int v = g_.add_value(data.shape(), data.dtype());
    g_.constants.push_back({v, data});
    return v;
  }
  int reshape(int v, const Shape& s) {
    return node(std::make_shared<Reshape>(s), {v}, s, g_.values[v].dtype);
  }
  int broadcast(int v, const Shape& s) {
    if (g_.values[v].shape == s) return v;
    return node(std::make_shared<Broadcast>(s), {v}, s, g_.values[v].dtype);
  }
  int binary(BinaryOp op, int a, int b) {
    const bool to_bool = op >= BinaryOp::Equal;
    return node(std::make_shared<Binary>(op), {a, b}, g_.values[a].shape,
                to_bool ? bool_ : g_.values[a].dtype);
  }
  int select(int c, int a, int b) {
    return node(std::make_shared<Select>(), {c, a, b}, g_.values[a].shape, g_.values[a].dtype);
  }
  const Graph::Value& value(int v) const { return g_.values[v]; }

 private:
  Graph& g_;
};

bool floating(Dtype t) {
  return t == float32 || t == float64;
}

// out = a + sum_j [wrap(idx[.., j, ..]) == k] * upd[.., j, ..] along `axis`.
bool lower_scatter_add(Emit& e, const Graph::Node& n) {
  const auto* s = dynamic_cast<const Scatter*>(n.prim.get());
  if (!s || s->reduce() != ScatterReduce::Add) return false;
  const int a = n.inputs[0], idx = n.inputs[1], upd = n.inputs[2];
  const Shape a_shape = e.value(a).shape, i_shape = e.value(idx).shape;
  const Dtype dt = e.value(a).dtype, it = e.value(idx).dtype;
  const int ax = s->axis();
  if (!floating(dt) || (it != int32 && it != int64)) return false;
  const int64_t K = a_shape[ax], J = i_shape[ax];
  if (J > kMaxSmallContraction || K == 0 || J == 0) return false;
  int64_t points = J;
  for (size_t i = 1; i < a_shape.size(); ++i) points *= a_shape[i];
  if (points > kMaxSmallContractionPoints) return false;
  Shape one = a_shape, full = a_shape;  // [P, 1, J, Q] and [P, K, J, Q]
  one[ax] = 1;
  one.insert(one.begin() + ax + 1, J);
  full.insert(full.begin() + ax + 1, J);
  Shape kshape(full.size(), 1);
  kshape[ax] = K;
  const int checked =
      e.node(std::make_shared<RangeCheckedIndex>(K), {e.reshape(idx, one)}, one, it);
  const int zero_i = e.broadcast(e.constant(zeros({}, it)), one);
  const int size = e.broadcast(e.constant(full_like(zeros({}, it), static_cast<double>(K))), one);
  const int wrapped = e.select(e.binary(BinaryOp::Less, checked, zero_i),
                               e.binary(BinaryOp::Add, checked, size), checked);
  const int iota = e.constant(reshape(arange(K, it), kshape));
  const int hit = e.binary(BinaryOp::Equal, e.broadcast(wrapped, full), e.broadcast(iota, full));
  const int picked = e.select(hit, e.broadcast(e.reshape(upd, one), full),
                              e.broadcast(e.constant(zeros({}, dt)), full));
  Shape summed = full;
  summed[ax + 1] = 1;
  const int total = e.node(std::make_shared<Reduce>(ReduceOp::Sum, std::vector<int>{ax + 1}, dt),
                           {picked}, summed, dt);
  e.node(std::make_shared<Binary>(BinaryOp::Add), {a, e.reshape(total, a_shape)}, a_shape, dt,
         n.outputs[0]);
  return true;
}

// a [.., N, C] x b [.., C, K] = sum_c a[.., n, 1, c] * b^T[.., 1, k, c].
bool lower_matmul(Emit& e, const Graph::Node& n) {
  if (!dynamic_cast<const Matmul*>(n.prim.get())) return false;
  const int a = n.inputs[0], b = n.inputs[1];
  const Shape as = e.value(a).shape, bs = e.value(b).shape;
  const Dtype dt = e.value(a).dtype;
  const size_t r = as.size();
  if (r < 2 || bs.size() != r || !floating(dt)) return false;
  const int64_t N = as[r - 2], C = as[r - 1], K = bs[r - 1];
  if (C > kMaxSmallContraction || C == 0 || N == 0 || K == 0) return false;
  int64_t points = K * C;
  for (size_t i = 1; i + 1 < r; ++i) points *= as[i];
  if (points > kMaxSmallContractionPoints) return false;
  Shape full(as.begin(), as.end() - 2);
  full.insert(full.end(), {N, K, C});
  Shape a_one(as.begin(), as.end() - 1);
  a_one.insert(a_one.end(), {1, C});
  std::vector<int> perm(r);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[r - 1], perm[r - 2]);
  Shape bt_shape = bs;
  std::swap(bt_shape[r - 1], bt_shape[r - 2]);
  const int bt = e.node(std::make_shared<Transpose>(perm), {b}, bt_shape, dt);
  Shape b_one(bs.begin(), bs.end() - 2);
  b_one.insert(b_one.end(), {1, K, C});
  const int prod = e.binary(BinaryOp::Multiply, e.broadcast(e.reshape(a, a_one), full),
                            e.broadcast(e.reshape(bt, b_one), full));
  Shape summed = full;
  summed.back() = 1;
  const int total =
      e.node(std::make_shared<Reduce>(ReduceOp::Sum, std::vector<int>{static_cast<int>(r)}, dt),
             {prod}, summed, dt);
  Shape out(as.begin(), as.end() - 1);
  out.push_back(K);
  e.node(std::make_shared<Reshape>(out), {total}, out, dt, n.outputs[0]);
  return true;
}

}  // namespace

void RangeCheckedIndex::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  const array& x = in[0];
  if (x.dtype() == int32) {
    check_indices<int32_t>(x, size_);
  } else {
    check_indices<int64_t>(x, size_);
  }
  out[0].set_view(x, x.strides(), 0, x.data_size(), x.flags());
}

bool RangeCheckedIndex::is_equivalent(const Primitive& other) const {
  auto* o = dynamic_cast<const RangeCheckedIndex*>(&other);
  return o && o->size_ == size_;
}

Graph lower_small_contractions(const Graph& graph) {
  Graph out = graph;
  out.nodes.clear();
  Emit e(out);
  for (const auto& n : graph.nodes) {
    if (!lower_scatter_add(e, n) && !lower_matmul(e, n)) out.nodes.push_back(n);
  }
  return out;
}

}  // namespace mfx::jit_detail

// mfx::distributed collectives on top of the backend: evaluate, pack into a
// row-major buffer (one per dtype for Trees), transfer, unpack.
#include <fmt/format.h>

#include <cstring>
#include <map>
#include <stdexcept>

#include "cpu/copy.h"
#include "distributed/gpu_collectives.h"
#include "distributed/transport.h"
#include "mfx/distributed.h"
#include "mfx/ops.h"

namespace mfx::distributed {

namespace {

// Halves travel as float32 (MPI has no half types).
Dtype wire_dtype(Dtype d) {
  return d == float16 || d == bfloat16 ? float32 : d;
}

std::vector<char> pack(const array& x, Dtype wire) {
  array e = astype(x, wire);
  e.eval();  // row_contiguous reads the evaluated layout (e.g. a stride-0 full())
  array c = cpu::row_contiguous(e);
  c.eval();
  std::vector<char> buf(c.nbytes());
  if (!buf.empty()) std::memcpy(buf.data(), c.raw_data(), buf.size());
  return buf;
}

array unpack(const char* data, const Shape& shape, Dtype wire, Dtype dtype) {
  array r(data, shape, wire);
  return astype(r, dtype);
}

// Every process must call with the same signature; compare 64-bit hashes.
void check_same(const std::string& signature, const char* op) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : signature) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  std::vector<uint64_t> all(static_cast<size_t>(transport::size()));
  transport::all_gather(&h, all.data(), sizeof(h));
  for (size_t r = 0; r < all.size(); ++r) {
    if (all[r] != h) {
      throw std::invalid_argument(fmt::format(
          "[{}] rank {} called with {} but rank {} passed something else (shapes, dtypes and "
          "tree structure must agree on every process)",
          op, transport::rank(), signature, r));
    }
  }
}

std::string signature(const array& x) {
  return fmt::format("{}{}", dtype_name(x.dtype()), shape_str(x.shape()));
}

}  // namespace

void init() {
  transport::start();
}
bool is_distributed() {
  return transport::started() && transport::size() > 1;
}
int rank() {
  return transport::rank();
}
int world_size() {
  return transport::size();
}
std::string backend() {
  return transport::name();
}

array all_sum(const array& x) {
  if (!is_distributed()) return x;
  check_same(signature(x), "all_sum");
  if (detail::on_gpu(x)) return detail::gpu_all_sum(x);
  Dtype wire = wire_dtype(x.dtype());
  auto buf = pack(x, wire);
  transport::all_reduce_sum(buf.data(), static_cast<size_t>(x.size()), wire);
  return unpack(buf.data(), x.shape(), wire, x.dtype());
}

array all_mean(const array& x) {
  if (!is_distributed()) return x;
  if (!is_floating(x.dtype())) {
    throw std::invalid_argument(fmt::format("[all_mean] needs a floating array, got {} {}",
                                            dtype_name(x.dtype()), shape_str(x.shape())));
  }
  return all_sum(x) / static_cast<double>(world_size());
}

array all_gather(const array& x) {
  if (!is_distributed()) return x;
  if (x.ndim() == 0) {
    throw std::invalid_argument("[all_gather] needs an array with at least one dimension");
  }
  check_same(signature(x), "all_gather");
  if (detail::on_gpu(x)) return detail::gpu_all_gather(x);
  Dtype wire = wire_dtype(x.dtype());
  auto buf = pack(x, wire);
  std::vector<char> out(buf.size() * static_cast<size_t>(world_size()));
  transport::all_gather(buf.data(), out.data(), buf.size());
  Shape shape = x.shape();
  shape[0] *= world_size();
  return unpack(out.data(), shape, wire, x.dtype());
}

array broadcast(const array& x, int root) {
  if (!is_distributed()) return x;
  if (root < 0 || root >= world_size()) {
    throw std::invalid_argument(
        fmt::format("[broadcast] root {} is not a rank of a group of {}", root, world_size()));
  }
  check_same(signature(x), "broadcast");
  if (detail::on_gpu(x)) return detail::gpu_broadcast(x, root);
  Dtype wire = wire_dtype(x.dtype());
  auto buf = pack(x, wire);
  transport::broadcast(buf.data(), buf.size(), root);
  return unpack(buf.data(), x.shape(), wire, x.dtype());
}

namespace {

// Applies a packed transfer to every leaf: leaves grouped by wire dtype,
// concatenated, transferred once per group.
Tree transfer_tree(const Tree& t, const char* op,
                   const std::function<void(std::vector<char>&, size_t, Dtype)>& transfer) {
  auto leaves = t.leaves();
  std::string sig = t.structure_str();
  for (auto& l : leaves) sig += signature(l);
  check_same(sig, op);
  std::map<Dtype, std::vector<size_t>> groups;
  for (size_t i = 0; i < leaves.size(); ++i) groups[wire_dtype(leaves[i].dtype())].push_back(i);
  std::vector<array> out(leaves.size());
  for (auto& [wire, idx] : groups) {
    std::vector<char> buf;
    std::vector<size_t> offsets;
    size_t count = 0;
    for (size_t i : idx) {
      offsets.push_back(buf.size());
      auto b = pack(leaves[i], wire);
      buf.insert(buf.end(), b.begin(), b.end());
      count += static_cast<size_t>(leaves[i].size());
    }
    transfer(buf, count, wire);
    for (size_t k = 0; k < idx.size(); ++k) {
      out[idx[k]] =
          unpack(buf.data() + offsets[k], leaves[idx[k]].shape(), wire, leaves[idx[k]].dtype());
    }
  }
  return t.unflatten(out);
}

}  // namespace

// Trees with GPU leaves: one NCCL call per leaf (on their device).
bool any_gpu(const Tree& t) {
  for (const auto& l : t.leaves()) {
    if (detail::on_gpu(l)) return true;
  }
  return false;
}

Tree all_sum(const Tree& t) {
  if (!is_distributed()) return t;
  if (any_gpu(t)) return t.map([](const array& x) { return all_sum(x); });
  return transfer_tree(t, "all_sum", [](std::vector<char>& buf, size_t count, Dtype wire) {
    transport::all_reduce_sum(buf.data(), count, wire);
  });
}

Tree all_mean(const Tree& t) {
  if (!is_distributed()) return t;
  Tree s = all_sum(t);
  auto leaves = s.leaves();
  for (auto& l : leaves) {
    if (is_floating(l.dtype())) l = l / static_cast<double>(world_size());
  }
  return s.unflatten(leaves);
}

Tree broadcast(const Tree& t, int root) {
  if (!is_distributed()) return t;
  if (root < 0 || root >= world_size()) {
    throw std::invalid_argument(
        fmt::format("[broadcast] root {} is not a rank of a group of {}", root, world_size()));
  }
  if (any_gpu(t)) return t.map([root](const array& x) { return broadcast(x, root); });
  return transfer_tree(t, "broadcast", [root](std::vector<char>& buf, size_t, Dtype) {
    transport::broadcast(buf.data(), buf.size(), root);
  });
}

void barrier() {
  transport::barrier();
}
void finalize() {
  transport::stop();
}

}  // namespace mfx::distributed

#include "train/content_checksum.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

namespace mfx::train::detail {

namespace {

class Fnv1a64 {
 public:
  void bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= p[i];
      h_ *= 0x100000001b3ull;
    }
  }
  void u64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    bytes(b, 8);
  }
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  uint64_t value() const { return h_; }

 private:
  uint64_t h_ = 0xcbf29ce484222325ull;
};

template <typename T>
void hash_values(Fnv1a64& h, const array& a) {
  std::vector<T> v = a.to_vector<T>();
  if constexpr (std::is_same_v<T, bool>) {
    for (bool b : v) {
      unsigned char c = b ? 1 : 0;
      h.bytes(&c, 1);
    }
  } else {
    h.bytes(v.data(), v.size() * sizeof(T));
  }
}

void hash_leaf(Fnv1a64& h, const array& a) {
  switch (a.dtype()) {
    case Dtype::bool_:
      return hash_values<bool>(h, a);
    case Dtype::uint8:
      return hash_values<uint8_t>(h, a);
    case Dtype::int32:
      return hash_values<int32_t>(h, a);
    case Dtype::int64:
      return hash_values<int64_t>(h, a);
    case Dtype::float16:
      return hash_values<float16_t>(h, a);
    case Dtype::bfloat16:
      return hash_values<bfloat16_t>(h, a);
    case Dtype::float32:
      return hash_values<float>(h, a);
    case Dtype::float64:
      return hash_values<double>(h, a);
  }
}

}  // namespace

uint64_t content_checksum(const Tree& tree, const std::map<std::string, std::string>& metadata,
                          const std::string& skip_key) {
  Fnv1a64 h;
  auto leaves = tree.flatten();
  h.u64(leaves.size());
  for (const auto& [path, a] : leaves) {
    h.str(path);
    h.str(std::string(dtype_name(a.dtype())));
    h.u64(a.shape().size());
    for (int64_t d : a.shape()) h.u64(static_cast<uint64_t>(d));
    hash_leaf(h, a);
  }
  for (const auto& [k, v] : metadata) {
    if (k == skip_key) continue;
    h.str(k);
    h.str(v);
  }
  return h.value();
}

std::string format_checksum(uint64_t sum) { return fmt::format("fnv1a64:{:016x}", sum); }

}  // namespace mfx::train::detail

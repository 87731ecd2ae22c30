#include "shape_check.h"

#include <fmt/format.h>

#include <cctype>
#include <stdexcept>

namespace mfx {

int64_t checked_size(const Shape& shape, Dtype dtype, std::string_view op) {
  bool empty = false;
  for (int64_t d : shape) {
    if (d < 0) {
      throw std::invalid_argument(
          fmt::format("[{}] negative dimension in shape {}", op, shape_str(shape)));
    }
    empty = empty || d == 0;
  }
  if (empty) return 0;
  // Bytes, not elements, are bounded: kMaxArrayBytes / itemsize elements at most.
  const int64_t max_elems = kMaxArrayBytes / static_cast<int64_t>(size_of(dtype));
  int64_t n = 1;
  for (int64_t d : shape) {
    if (n > max_elems / d) {
      throw std::invalid_argument(fmt::format(
          "[{}] shape {} of {} is larger than the largest array mfx makes (2^48 bytes)", op,
          shape_str(shape), dtype_name(dtype)));
    }
    n *= d;
  }
  return n;
}

bool size_fits(const Shape& shape, Dtype dtype) {
  const int64_t max_elems = kMaxArrayBytes / static_cast<int64_t>(size_of(dtype));
  bool empty = false;
  int64_t n = 1;
  bool over = false;
  for (int64_t d : shape) {
    if (d < 0) return false;
    if (d == 0) {
      empty = true;
      continue;
    }
    if (!over && n > max_elems / d) over = true;
    if (!over) n *= d;
  }
  return empty || !over;
}

int64_t shape_size(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == 0) return 0;
  }
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t checked_dim_mul(int64_t a, int64_t b, std::string_view op) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) {
    throw std::invalid_argument(
        fmt::format("[{}] dimension {} * {} is negative or overflows int64", op, a, b));
  }
  return r;
}

int64_t checked_dim_add(int64_t a, int64_t b, std::string_view op) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_add_overflow(a, b, &r)) {
    throw std::invalid_argument(
        fmt::format("[{}] dimension {} + {} is negative or overflows int64", op, a, b));
  }
  return r;
}

std::string op_name_of_primitive(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c)) {
      if (i > 0 && !std::isupper(static_cast<unsigned char>(name[i - 1]))) out += '_';
      out += static_cast<char>(std::tolower(c));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace mfx

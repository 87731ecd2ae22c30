// Canonical byte encoding of a kernel (fixed-width little-endian fields,
// every container prefixed with its length so the encoding is unambiguous),
// hashed with FNV-1a 128.
#include "compiler/kernel_hash.h"

#include <fmt/format.h>

#include <cstring>
#include <type_traits>

namespace mfx::compiler {

namespace {

// Tripwires: a new field in one of these structs changes its size; hash it
// below (and bump kKernelHashVersion if old entries become wrong).
static_assert(sizeof(CodegenOptions) == 1, "hash the new CodegenOptions field");
static_assert(sizeof(KernelArg) == 24, "hash the new KernelArg field");
static_assert(sizeof(LocalArray) == 40, "hash the new LocalArray field");
static_assert(sizeof(Expr) == 88, "hash the new Expr field");
static_assert(sizeof(Store) == 48, "hash the new Store field");
static_assert(sizeof(Materialize) == 8, "hash the new Materialize field");
static_assert(sizeof(Reduction) == 12, "hash the new Reduction field");
static_assert(sizeof(Phase) == 152, "hash the new Phase field");

class Encoder {
 public:
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  template <class E>
  void enumeration(E e) {
    static_assert(std::is_enum_v<E>);
    i64(static_cast<int64_t>(e));
  }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u64(bits);
  }
  void text(std::string_view s) {
    u64(s.size());
    out_.append(s);
  }
  template <class T, class F>
  void list(const std::vector<T>& xs, F&& each) {
    u64(xs.size());
    for (const auto& x : xs) each(x);
  }
  void ints(const std::vector<int64_t>& xs) {
    list(xs, [&](int64_t v) { i64(v); });
  }
  void ints(const std::vector<int>& xs) {
    list(xs, [&](int v) { i64(v); });
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

void encode(Encoder& e, const Expr& x) {
  // All fields, whatever the kind: a field the emitter ignores can only cause
  // a cache miss, a forgotten one could return wrong code.
  e.enumeration(x.kind);
  e.enumeration(x.dtype);
  e.ints(x.operands);
  e.f64(x.value);
  e.i64(x.axis);
  e.i64(x.arg);
  e.ints(x.choices);
  e.i64(x.local);
  e.enumeration(x.unary_op);
  e.enumeration(x.binary_op);
}

void encode(Encoder& e, const Phase& p) {
  e.enumeration(p.kind);
  e.i64(p.lane);
  e.ints(p.domain);
  e.ints(p.reduced_axes);
  e.list(p.exprs, [&](const Expr& x) { encode(e, x); });
  e.list(p.stores, [&](const Store& s) {
    e.i64(s.arg);
    e.i64(s.index);
    e.i64(s.value);
    e.ints(s.choices);
    e.i64(s.choice);
  });
  e.list(p.materializations, [&](const Materialize& m) {
    e.i64(m.local);
    e.i64(m.value);
  });
  e.list(p.reductions, [&](const Reduction& r) {
    e.enumeration(r.op);
    e.i64(r.local);
    e.i64(r.value);
  });
}

}  // namespace

std::string KernelHash::hex() const {
  return fmt::format("{:016x}{:016x}", hi, lo);
}

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

KernelHash kernel_hash(const Kernel& kernel, Target target, const CodegenOptions& options,
                       std::string_view salt) {
  Encoder e;
  e.text("mfx-kernel");
  e.i64(kKernelHashVersion);
  e.enumeration(target);
  e.u64(options.fast_math ? 1 : 0);
  e.text(salt);
  // kernel.name is left out on purpose: the cache compiles under a name
  // derived from the hash.
  e.list(kernel.args, [&](const KernelArg& a) {
    e.enumeration(a.dtype);
    e.i64(a.size);
    e.u64(a.output ? 1 : 0);
  });
  e.ints(kernel.grid);
  e.list(kernel.locals, [&](const LocalArray& l) {
    e.enumeration(l.dtype);
    e.ints(l.shape);
    e.i64(l.region);
  });
  e.list(kernel.phases, [&](const Phase& p) { encode(e, p); });

  // FNV-1a 128: offset basis and prime 2^88 + 2^8 + 0x3b.
  using u128 = unsigned __int128;
  u128 h = (static_cast<u128>(0x6c62272e07bb0142ull) << 64) | 0x62b821756295c58dull;
  const u128 prime = (static_cast<u128>(1) << 88) | 0x13b;
  for (unsigned char c : e.bytes()) {
    h ^= c;
    h *= prime;
  }
  return {static_cast<uint64_t>(h >> 64), static_cast<uint64_t>(h)};
}

}  // namespace mfx::compiler

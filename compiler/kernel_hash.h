// Structural hash of a Kernel: the key of the kernel cache (compiler/
// kernel_cache.h). Two kernels hash equal when they generate the same code:
// every field of the IR counts except the kernel's name, together with the
// target, the codegen options and a format version.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "compiler/codegen.h"
#include "compiler/kernel_ir.h"

namespace mfx::compiler {

/// Bumped whenever code generation or the hashed encoding changes in a way
/// that makes earlier cache entries wrong; it is part of every hash.
inline constexpr int kKernelHashVersion = 8;

/// A 128-bit hash value.
struct KernelHash {
  uint64_t hi = 0;
  uint64_t lo = 0;

  /// 32 lowercase hex digits (hi first): the cache's file and folder name.
  std::string hex() const;
  bool operator==(const KernelHash&) const = default;
};

/// For unordered containers.
struct KernelHashHasher {
  size_t operator()(const KernelHash& h) const { return static_cast<size_t>(h.lo ^ h.hi); }
};

/// FNV-1a (128-bit) of the kernel's canonical encoding (every field but the
/// name; float constants bit for bit, so 0.0 and -0.0 differ), the target,
/// every CodegenOptions field, kKernelHashVersion and `salt` (the cache passes
/// cpu_host_id() for CPU code).
KernelHash kernel_hash(const Kernel& kernel, Target target, const CodegenOptions& options,
                       std::string_view salt = {});

/// 64-bit FNV-1a of arbitrary bytes (checksums of cache files).
uint64_t fnv1a64(std::string_view bytes);

}  // namespace mfx::compiler

// Kernel cache: compiled kernels in memory and on disk, keyed by the
// structural hash of the kernel, target and codegen options (kernel_hash.h).
//
// Kernels are compiled under a name derived from the hash (kernel_entry_name),
// not under Kernel::name: kernels that differ only in their name share one
// compiled object, whose PtxKernel::entry / mlir() show that derived name.
// A kernel loaded from disk reports its load time as compile_seconds.
//
// On disk every entry is a folder <dir>/kernels/<32 hex digits>/ holding
//   kernel.mlir           the MLIR as emitted
//   kernel.o, lowered.mlir  (CPU) object code and the LLVM-dialect MLIR
//   kernel.ptx            (CUDA) the PTX text
//   meta.json             format version, target, entry, launch config (CUDA),
//                         host id (CPU), the kernel's to_string and the size
//                         and FNV-1a checksum of every other file
// Files are written to unique temporary names in the folder and renamed
// (atomic), meta.json last, so processes may share a directory. An entry whose
// meta.json is missing, unparsable or disagrees with its files is ignored and
// rewritten after compiling again. Disk errors never fail a request: the
// cache then behaves as memory-only for that kernel.
//
// The folder is bounded (max_bytes): <dir>/bytes counts the bytes of its
// entries (each write adds its entry's); when the count passes the bound, the
// writer measures the folder and removes the least recently used entries
// (meta.json's modification time, refreshed by every disk hit) until it
// holds at most 3/4 of the bound. An entry is removed meta.json first, so a
// reader sees it whole or not at all.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "compiler/codegen.h"
#include "compiler/kernel_hash.h"

namespace mfx::compiler {

/// The name a cached kernel is compiled under: "mfx_" + hash.hex().
std::string kernel_entry_name(const KernelHash& hash);

class KernelCache {
 public:
  /// The process-wide cache. Directory: $MFX_CACHE_DIR when set (memory only
  /// when it is "" or "off"), else $XDG_CACHE_HOME/mfx, else ~/.cache/mfx
  /// (memory only without HOME).
  static KernelCache& global();

  /// The directory global() uses, from the environment as read now.
  static std::string default_dir();

  /// The bound global() puts on its folder: $MFX_CACHE_MAX_BYTES (a byte
  /// count, optionally with a K, M or G suffix for KiB, MiB, GiB) when set,
  /// else 2 GiB. Throws std::invalid_argument naming the variable for
  /// anything else.
  static int64_t default_max_bytes();

  /// A cache using `dir` on disk (created when needed); "" keeps it in
  /// memory. The folder is kept under `max_bytes` (> 0) as above.
  explicit KernelCache(std::string dir, int64_t max_bytes = int64_t{2} << 30);
  ~KernelCache();
  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;

  /// The kernel compiled for this CPU: from memory, else from disk (object
  /// code, no MLIR or LLVM work), else compiled and stored. Thread-safe; two
  /// threads asking for one kernel compile it once. Throws what compile_cpu
  /// throws for an invalid kernel.
  std::shared_ptr<const CpuKernel> cpu(const Kernel& kernel, const CodegenOptions& options = {});

  /// The kernel as PTX for `target` (sm_80 / sm_90), from memory, disk or
  /// compile_ptx; same guarantees as cpu().
  std::shared_ptr<const PtxKernel> ptx(const Kernel& kernel, Target target,
                                       const CodegenOptions& options = {});

  struct Stats {
    int64_t memory_hits = 0;     // served from memory (including waits on a compile)
    int64_t disk_hits = 0;       // loaded from a valid disk entry
    int64_t disk_rejects = 0;    // disk entries found but invalid (then compiled)
    int64_t compiles = 0;        // compiled with MLIR
    double compile_seconds = 0;  // total time compiling (and writing the entries)
    double disk_seconds = 0;     // total time reading and loading disk hits
    int64_t disk_evictions = 0;  // entries removed to keep the folder bounded
  };
  Stats stats() const;

  /// Forgets the in-memory kernels (objects already handed out stay valid);
  /// the next request reads the disk again.
  void clear_memory();

  /// The cache directory, "" when the cache is memory-only.
  const std::string& dir() const;

  /// The folder of one entry (<dir>/kernels/<hex>), "" when memory-only.
  std::string entry_dir(const KernelHash& hash) const;

  /// The key cpu() / ptx() use for a kernel (for CPU code it includes
  /// cpu_host_id()).
  static KernelHash key(const Kernel& kernel, Target target, const CodegenOptions& options);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mfx::compiler

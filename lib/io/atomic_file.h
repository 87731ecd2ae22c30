// Atomic file replacement (internal): write a temporary file next to the
// target, fsync it, then rename() it over the target. Readers see either the
// old file or the complete new one, never a partial write.
#pragma once

#include <cstddef>
#include <string>

namespace mfx::io {

/// Removes the temporary files ".<name>.tmp-<pid>-<16 hex>" of `path` in its
/// directory whose writer process no longer exists (a killed run), and no
/// other file. Errors are ignored: the files are only litter.
void remove_stale_temporaries(const std::string& path);

class AtomicFile {
 public:
  /// Creates a uniquely named temporary file in `path`'s directory. `op`
  /// prefixes error messages ("save_safetensors"). Throws std::runtime_error
  /// naming the path and the system error.
  AtomicFile(std::string path, std::string op);
  /// Removes the temporary file unless commit() succeeded.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends n bytes (retrying partial writes and EINTR).
  void write(const void* data, size_t n);
  /// fsync, close and rename over the target; the directory is fsync'ed too
  /// so the rename itself survives a crash. Then removes the temporaries
  /// that killed writers left for the same target (remove_stale_temporaries).
  void commit();

  const std::string& temp_path() const { return tmp_; }

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void discard() noexcept;

  std::string path_, tmp_, op_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace mfx::io

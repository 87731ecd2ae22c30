// Stream-ordered caching allocator for device memory (internal). Freed
// blocks stay cached per stream and are reused by later allocations on the
// same stream without synchronisation; a memory limit and statistics (in
// use, cached, peak) are kept. When memory runs out the cache is released
// once and the allocation retried; if that fails too, a clear exception —
// never an abort. The raw memory is pluggable so the logic is tested on the
// host; the CUDA backend uses cuMemAlloc/cuMemFree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mfx::cuda {

/// Where blocks come from: returns nullptr when the memory is exhausted.
class RawMemory {
 public:
  virtual ~RawMemory() = default;
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr, size_t bytes) = 0;
  virtual std::string name() const = 0;
};

/// Device memory through the CUDA driver (current context).
std::unique_ptr<RawMemory> driver_memory();

class CachingAllocator {
 public:
  struct Block {
    void* ptr = nullptr;
    size_t size = 0;  // rounded size actually reserved
    uintptr_t stream = 0;
  };
  struct Stats {
    size_t in_use = 0;  // bytes handed out
    size_t cached = 0;  // bytes held for reuse
    size_t peak_in_use = 0;
    size_t allocations = 0;  // allocate() calls
    size_t cache_hits = 0;
    size_t raw_allocations = 0;
    size_t cache_flushes = 0;  // empty_cache() after running out of memory
  };

  /// `limit` bounds in_use + cached (0: no limit beyond the raw memory's).
  CachingAllocator(std::unique_ptr<RawMemory> raw, size_t limit = 0);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  /// A block of at least `bytes` usable on `stream`. Throws
  /// std::runtime_error naming the request, usage and limit when memory is
  /// exhausted even after releasing the cache.
  Block allocate(size_t bytes, uintptr_t stream = 0);
  /// Returns a block to the cache of its stream.
  void release(const Block& block);
  /// Gives every cached block back to the raw memory.
  void empty_cache();

  /// CUDA-graph capture: the blocks handed out between begin_recording()
  /// and end_recording() (on any stream) are returned by the latter and
  /// stay held: a captured graph keeps using their addresses, so release()
  /// by their owner does not make them reusable until release_held() drops
  /// the hold too (in either order). A block freed during the recording may
  /// be handed out again within it (a captured graph runs in capture order),
  /// so the graph holds the peak, not the sum, of what it allocated. While
  /// recording, running out of memory does not release the cache (that
  /// synchronises). Recordings do not nest.
  void begin_recording();
  std::vector<Block> end_recording();
  void release_held(const std::vector<Block>& blocks);
  Stats stats() const;

  /// Sizes are rounded: to 512 B below 1 MiB, to 2 MiB above.
  static size_t round_size(size_t bytes);

 private:
  void* raw_allocate(size_t size);
  void empty_cache_locked();
  void cache_locked(const Block& block);
  void record_locked(const Block& block);

  std::unique_ptr<RawMemory> raw_;
  size_t limit_;
  mutable std::mutex mutex_;
  // Per stream: free blocks by size.
  std::map<uintptr_t, std::multimap<size_t, void*>> free_;
  Stats stats_;
  bool recording_ = false;
  std::vector<Block> recorded_;
  std::map<void*, size_t> recorded_size_;        // blocks of this recording
  std::multimap<size_t, void*> recording_free_;  // ... freed again during it
  std::map<void*, bool> held_;                   // held block -> released by its owner already
};

}  // namespace mfx::cuda

// A size-keyed free list of CPU blocks with a byte limit (see buffer_cache.h).
#include "cpu/buffer_cache.h"

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

namespace mfx::cpu {

namespace {

// Small blocks round to 64 bytes, larger ones to pages: few distinct sizes,
// so freed blocks match later requests.
size_t round_block(size_t n) {
  const size_t unit = n <= 4096 ? 64 : 4096;
  return std::max<size_t>(unit, (n + unit - 1) / unit * unit);
}

size_t default_limit() {
  if (const char* v = std::getenv("MFX_CPU_BUFFER_CACHE_BYTES")) {
    char* end = nullptr;
    const unsigned long long x = std::strtoull(v, &end, 10);
    if (end != v && *end == '\0') return static_cast<size_t>(x);
  }
  // A quarter of the machine's memory, at most 8 GiB: the blocks one step of
  // a large loss frees (2-3 GiB at 2700 queries) must fit, or every step
  // maps and zeroes its largest buffers afresh.
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const size_t ram = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(8) << 30;
  return std::min<size_t>(ram / 4, size_t(8) << 30);
}

std::mutex& cache_mutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}

class Cache {
 public:
  Cache() {
    // A forked child (the fuzzer forks) must not inherit a held lock.
    ::pthread_atfork([] { cache_mutex().lock(); }, [] { cache_mutex().unlock(); },
                     [] { cache_mutex().unlock(); });
  }

  void* acquire(size_t nbytes, size_t* capacity) {
    void* p = acquire_unpoisoned(nbytes, capacity);
    // Debugging: every byte 0xFF (a NaN pattern), so a kernel that reads
    // memory it did not write shows in the results.
    if (poison_) std::memset(p, 0xFF, *capacity);
    return p;
  }

  void* acquire_unpoisoned(size_t nbytes, size_t* capacity) {
    const size_t want = round_block(nbytes);
    {
      std::lock_guard<std::mutex> lock(cache_mutex());
      ++stats_.requests;
      // The smallest cached block that fits, if it wastes at most a quarter.
      auto it = free_.lower_bound(want);
      if (it != free_.end() && it->first <= want + want / 4) {
        void* p = it->second;
        *capacity = it->first;
        stats_.cached_bytes -= it->first;
        free_.erase(it);
        ++stats_.hits;
        return p;
      }
    }
    void* p = std::aligned_alloc(64, want);
    if (!p) {
      // Cached blocks may be what is missing: drop them and try once more.
      clear();
      p = std::aligned_alloc(64, want);
    }
    if (!p) {
      throw std::runtime_error(fmt::format("[Buffer] out of memory allocating {} bytes", nbytes));
    }
    *capacity = want;
    return p;
  }

  void release(void* p, size_t capacity) {
    {
      std::lock_guard<std::mutex> lock(cache_mutex());
      if (capacity <= limit_) {
        // Make room by dropping the largest cached blocks (the rarest sizes).
        while (stats_.cached_bytes + capacity > limit_ && !free_.empty()) {
          auto last = std::prev(free_.end());
          std::free(last->second);
          stats_.cached_bytes -= last->first;
          free_.erase(last);
        }
        free_.emplace(capacity, p);
        stats_.cached_bytes += capacity;
        stats_.peak_cached_bytes = std::max(stats_.peak_cached_bytes, stats_.cached_bytes);
        return;
      }
    }
    std::free(p);
  }

  void clear() {
    std::lock_guard<std::mutex> lock(cache_mutex());
    for (auto& [size, p] : free_) std::free(p);
    free_.clear();
    stats_.cached_bytes = 0;
  }

  void set_limit(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(cache_mutex());
      limit_ = bytes;
      while (stats_.cached_bytes > limit_ && !free_.empty()) {
        auto last = std::prev(free_.end());
        std::free(last->second);
        stats_.cached_bytes -= last->first;
        free_.erase(last);
      }
    }
  }

  BufferCacheStats stats() {
    std::lock_guard<std::mutex> lock(cache_mutex());
    BufferCacheStats s = stats_;
    s.limit_bytes = limit_;
    s.cached_blocks = free_.size();
    return s;
  }

 private:
  std::multimap<size_t, void*> free_;
  size_t limit_ = default_limit();
  const bool poison_ = std::getenv("MFX_CPU_BUFFER_POISON") != nullptr;
  BufferCacheStats stats_;
};

// Never destroyed: buffers of static arrays may be released after main.
Cache& cache() {
  static Cache* c = new Cache();
  return *c;
}

}  // namespace

void* acquire_buffer(size_t nbytes) {
  size_t capacity = 0;
  return cache().acquire(nbytes, &capacity);
}

void release_buffer(void* ptr, size_t nbytes) { cache().release(ptr, round_block(nbytes)); }

BufferCacheStats buffer_cache_stats() { return cache().stats(); }

void clear_buffer_cache() { cache().clear(); }

void set_buffer_cache_limit(size_t bytes) { cache().set_limit(bytes); }

}  // namespace mfx::cpu

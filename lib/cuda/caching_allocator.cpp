#include "cuda/caching_allocator.h"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

#include "cuda/driver.h"

namespace mfx::cuda {

namespace {

constexpr size_t kSmall = size_t{1} << 20;
constexpr size_t kSmallRound = 512;
constexpr size_t kLargeRound = size_t{2} << 20;

class DriverMemory : public RawMemory {
 public:
  void* allocate(size_t bytes) override {
    CUdeviceptr p = 0;
    CUresult rc = driver().cuMemAlloc(&p, bytes);
    if (rc == 2) return nullptr;  // CUDA_ERROR_OUT_OF_MEMORY: the allocator retries
    check(rc, "cuMemAlloc", fmt::format("of {} bytes", bytes));
    return reinterpret_cast<void*>(p);
  }
  void release(void* ptr, size_t) override {
    check(driver().cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)), "cuMemFree");
  }
  std::string name() const override { return "cuda"; }
};

}  // namespace

std::unique_ptr<RawMemory> driver_memory() {
  if (!gpu_available()) {
    throw std::runtime_error("[cuda] no device memory: " + gpu_unavailable_reason());
  }
  return std::make_unique<DriverMemory>();
}

CachingAllocator::CachingAllocator(std::unique_ptr<RawMemory> raw, size_t limit)
    : raw_(std::move(raw)), limit_(limit) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  empty_cache_locked();
}

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  size_t unit = bytes < kSmall ? kSmallRound : kLargeRound;
  return (bytes + unit - 1) / unit * unit;
}

void* CachingAllocator::raw_allocate(size_t size) {
  if (limit_ && stats_.in_use + stats_.cached + size > limit_) return nullptr;
  void* p = raw_->allocate(size);
  if (p) ++stats_.raw_allocations;
  return p;
}

CachingAllocator::Block CachingAllocator::allocate(size_t bytes, uintptr_t stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t size = round_size(bytes);
  ++stats_.allocations;
  auto fits = [size](size_t have) { return have == size || (size >= kSmall && have <= 2 * size); };
  if (recording_) {
    // A block this capture already freed: the graph orders the reuse (one
    // stream, capture order), and it stays held and counted as in use.
    auto r = recording_free_.lower_bound(size);
    if (r != recording_free_.end() && fits(r->first)) {
      Block b{r->second, r->first, stream};
      recording_free_.erase(r);
      held_[b.ptr] = false;
      ++stats_.cache_hits;
      return b;
    }
  }
  // Best fit on this stream, wasting at most half of a large block.
  auto& pool = free_[stream];
  auto it = pool.lower_bound(size);
  if (it != pool.end() && fits(it->first)) {
    Block b{it->second, it->first, stream};
    pool.erase(it);
    stats_.cached -= b.size;
    stats_.in_use += b.size;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
    ++stats_.cache_hits;
    record_locked(b);
    return b;
  }
  void* p = raw_allocate(size);
  if (!p && !recording_) {
    // Out of memory: give the cache back once and try again (not while a
    // graph is captured: freeing synchronises, which a capture forbids).
    ++stats_.cache_flushes;
    empty_cache_locked();
    p = raw_allocate(size);
  }
  if (!p) {
    throw std::runtime_error(fmt::format(
        "[{}] out of memory: requested {} bytes ({} rounded); {} bytes in use, {} cached{} "
        "(the cache was released and the allocation retried)",
        raw_->name(), bytes, size, stats_.in_use, stats_.cached,
        limit_ ? fmt::format(", limit {} bytes", limit_) : std::string()));
  }
  stats_.in_use += size;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
  Block b{p, size, stream};
  record_locked(b);
  return b;
}

void CachingAllocator::record_locked(const Block& b) {
  if (!recording_) return;
  recorded_.push_back(b);
  recorded_size_[b.ptr] = b.size;
  held_[b.ptr] = false;
}

void CachingAllocator::begin_recording() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (recording_) throw std::logic_error("[allocator] begin_recording: already recording");
  recording_ = true;
  recorded_.clear();
}

std::vector<CachingAllocator::Block> CachingAllocator::end_recording() {
  std::lock_guard<std::mutex> lock(mutex_);
  recording_ = false;
  recording_free_.clear();
  recorded_size_.clear();
  return std::exchange(recorded_, {});
}

void CachingAllocator::release_held(const std::vector<Block>& blocks) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const Block& b : blocks) {
    auto it = held_.find(b.ptr);
    if (it == held_.end()) continue;
    const bool owner_released = it->second;
    held_.erase(it);
    if (owner_released) cache_locked(b);
  }
}

void CachingAllocator::release(const Block& block) {
  if (!block.ptr) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = held_.find(block.ptr);
  if (it != held_.end()) {
    it->second = true;  // a graph still uses it: cached when the graph lets go
    auto rec = recorded_size_.find(block.ptr);
    if (recording_ && rec != recorded_size_.end()) recording_free_.emplace(rec->second, rec->first);
    return;
  }
  cache_locked(block);
}

void CachingAllocator::cache_locked(const Block& block) {
  free_[block.stream].emplace(block.size, block.ptr);
  stats_.in_use -= block.size;
  stats_.cached += block.size;
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  empty_cache_locked();
}

void CachingAllocator::empty_cache_locked() {
  // Each block leaves the cache before it is freed: a failing free leaks it
  // rather than leaving a dangling pointer to hand out.
  for (auto& [stream, pool] : free_) {
    while (!pool.empty()) {
      const auto [size, ptr] = *pool.begin();
      pool.erase(pool.begin());
      stats_.cached -= size;
      try {
        raw_->release(ptr, size);
      } catch (const std::exception&) {
      }
    }
  }
}

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace mfx::cuda

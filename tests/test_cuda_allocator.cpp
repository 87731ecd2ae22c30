// The caching allocator's logic on a host memory backend with a capacity
// (the CUDA backend plugs cuMemAlloc into the same code).
#include <cstdlib>

#include "cuda/caching_allocator.h"
#include "test_utils.h"

using mfx::cuda::CachingAllocator;
using mfx::cuda::RawMemory;

namespace {

class HostMemory : public RawMemory {
 public:
  explicit HostMemory(size_t capacity) : capacity_(capacity) {}
  void* allocate(size_t bytes) override {
    if (used_ + bytes > capacity_) return nullptr;
    used_ += bytes;
    ++live_;
    return std::malloc(bytes);
  }
  void release(void* p, size_t bytes) override {
    used_ -= bytes;
    --live_;
    std::free(p);
  }
  std::string name() const override { return "host-test"; }
  static inline size_t used_ = 0;
  static inline int live_ = 0;

 private:
  size_t capacity_;
};

}  // namespace

TEST_CASE("sizes round to 512 B below 1 MiB and to 2 MiB above", "[cuda][allocator]") {
  CHECK(CachingAllocator::round_size(1) == 512);
  CHECK(CachingAllocator::round_size(513) == 1024);
  CHECK(CachingAllocator::round_size((1 << 20) + 1) == (size_t{2} << 20));
  CHECK(CachingAllocator::round_size(size_t{5} << 20) == (size_t{6} << 20));
}

TEST_CASE("freed blocks are reused on the same stream; statistics add up", "[cuda][allocator]") {
  HostMemory::used_ = 0;
  HostMemory::live_ = 0;
  {
    CachingAllocator a(std::make_unique<HostMemory>(size_t{64} << 20));
    auto b1 = a.allocate(1000, 1);
    auto b2 = a.allocate(size_t{3} << 20, 1);
    CHECK(a.stats().in_use == 1024 + (size_t{4} << 20));
    CHECK(a.stats().raw_allocations == 2);
    a.release(b1);
    a.release(b2);
    CHECK(a.stats().in_use == 0);
    CHECK(a.stats().cached == 1024 + (size_t{4} << 20));
    auto b3 = a.allocate(900, 1);  // same rounded size: reused
    CHECK(b3.ptr == b1.ptr);
    auto b4 = a.allocate(size_t{3} << 20, 2);  // another stream: no reuse
    CHECK(b4.ptr != b2.ptr);
    auto b5 = a.allocate(size_t{7} << 21, 1);  // 14 MiB: the 4 MiB block is too small
    CHECK(b5.ptr != b2.ptr);
    CHECK(a.stats().cache_hits == 1);
    CHECK(a.stats().peak_in_use >= a.stats().in_use);
    a.release(b3);
    a.release(b4);
    a.release(b5);
    a.empty_cache();
    CHECK(a.stats().cached == 0);
    CHECK(HostMemory::live_ == 0);
  }
  CHECK(HostMemory::used_ == 0);
}

TEST_CASE("running out of memory releases the cache once, then fails clearly",
          "[cuda][allocator][errors]") {
  HostMemory::used_ = 0;
  CachingAllocator a(std::make_unique<HostMemory>(size_t{8} << 20));
  auto big = a.allocate(size_t{5} << 20, 1);  // 6 MiB reserved
  a.release(big);                             // cached on stream 1
  // 4 MiB on stream 2 does not fit beside the cached 6 MiB: the cache goes.
  auto other = a.allocate(size_t{4} << 20, 2);
  CHECK(a.stats().cache_flushes == 1);
  CHECK(a.stats().cached == 0);
  mfx::test::check_throws_with(
      [&] {
        try {
          a.allocate(size_t{6} << 20, 2);
        } catch (const std::runtime_error& e) {
          throw std::invalid_argument(e.what());
        }
      },
      {"[host-test] out of memory", "requested 6291456 bytes", "4194304 bytes in use"});
  a.release(other);
}

TEST_CASE("the memory limit bounds in-use plus cached bytes", "[cuda][allocator]") {
  CachingAllocator a(std::make_unique<HostMemory>(size_t{1} << 30), size_t{3} << 20);
  auto b = a.allocate(size_t{2} << 20);
  CHECK_THROWS_AS(a.allocate(size_t{2} << 20), std::runtime_error);
  a.release(b);
  auto c = a.allocate(size_t{2} << 20);  // reuses the cached block
  CHECK(c.ptr == b.ptr);
  a.release(c);
}

TEST_CASE("blocks recorded for a graph stay held until both owner and graph let go",
          "[cuda][allocator]") {
  HostMemory::used_ = 0;
  HostMemory::live_ = 0;
  CachingAllocator a(std::make_unique<HostMemory>(size_t{64} << 20));
  auto before = a.allocate(1000);
  a.begin_recording();
  CHECK_THROWS_WITH(a.begin_recording(), Catch::Contains("already recording"));
  auto x = a.allocate(1000);  // a fresh block
  a.release(before);
  auto y = a.allocate(1000);  // would reuse `before` from the cache: recorded too
  CHECK(y.ptr == before.ptr);
  auto held = a.end_recording();
  REQUIRE(held.size() == 2);
  auto after = a.allocate(1000);  // not recorded
  CHECK(a.end_recording().empty());

  // The owner frees x first: it must not be handed out again while held.
  a.release(x);
  auto z = a.allocate(1000);
  CHECK(z.ptr != x.ptr);
  CHECK(z.ptr != y.ptr);
  CHECK(a.stats().in_use == 4 * 1024);
  // The graph lets go: x (owner gone) returns to the cache, y still has its owner.
  a.release_held(held);
  CHECK(a.stats().in_use == 3 * 1024);
  auto w = a.allocate(1000);
  CHECK(w.ptr == x.ptr);
  // y's owner releases after the graph: an ordinary release.
  a.release(y);
  auto v = a.allocate(1000);
  CHECK(v.ptr == y.ptr);
  for (auto b : {after, z, w, v}) a.release(b);
  CHECK(a.stats().in_use == 0);
}

TEST_CASE("a recording reuses blocks it freed itself and never flushes the cache",
          "[cuda][allocator]") {
  HostMemory::used_ = 0;
  HostMemory::live_ = 0;
  CachingAllocator a(std::make_unique<HostMemory>(4096));
  auto cached = a.allocate(1000);
  a.release(cached);  // 1024 bytes cached
  a.begin_recording();
  auto x = a.allocate(2000);  // 2048, fresh
  a.release(x);               // freed within the capture ...
  auto y = a.allocate(2000);  // ... and reused by it
  CHECK(y.ptr == x.ptr);
  CHECK(a.stats().in_use == 2048);
  // Out of memory while recording: no cache flush, a clear error.
  const auto flushes = a.stats().cache_flushes;
  CHECK_THROWS_WITH(a.allocate(3000), Catch::Contains("out of memory"));
  CHECK(a.stats().cache_flushes == flushes);
  auto held = a.end_recording();
  REQUIRE(held.size() == 1);  // one block however often it was reused
  a.release(y);               // owner gone; still held by the graph
  auto z = a.allocate(2000);
  CHECK(z.ptr != y.ptr);
  a.release_held(held);
  auto w = a.allocate(2000);
  CHECK(w.ptr == y.ptr);
  a.release(z);
  a.release(w);
  CHECK(a.stats().in_use == 0);
}

// The CPU buffer cache: freed buffers are reused, the limit holds, and
// reused memory never leaks into results (ops that need zeros write them).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "mfx/cpu.h"
#include "mfx/ops.h"
#include "test_utils.h"

using namespace mfx;

// Declared first: the other cases set the limit.
TEST_CASE("the default limit is a quarter of the memory, at most 8 GiB") {
  if (std::getenv("MFX_CPU_BUFFER_CACHE_BYTES")) return;
  const size_t ram = size_t(::sysconf(_SC_PHYS_PAGES)) * size_t(::sysconf(_SC_PAGESIZE));
  CHECK(cpu::buffer_cache_stats().limit_bytes == std::min(ram / 4, size_t(8) << 30));
}

TEST_CASE("freed CPU buffers are reused within the limit") {
  cpu::set_buffer_cache_limit(size_t(64) << 20);
  cpu::clear_buffer_cache();
  const void* first = nullptr;
  {
    array a = arange(65536, float32);
    a.eval();
    first = a.data<float>();
  }
  const auto before = cpu::buffer_cache_stats();
  CHECK(before.cached_bytes >= 256 * 256 * 4);
  array b = arange(65536, float32);
  b.eval();
  const auto after = cpu::buffer_cache_stats();
  CHECK(after.hits == before.hits + 1);
  CHECK(b.data<float>() == first);
  CHECK(test::values(sum(astype(b, float64)))[0] == 65535.0 * 65536 / 2);

  // The limit: 1 MiB holds one 512 KiB block of two, not both.
  cpu::set_buffer_cache_limit(size_t(1) << 20);
  {
    array c = arange(131072, float32), d = arange(131072, float32);
    eval(std::vector<array>{c, d});
  }
  CHECK(cpu::buffer_cache_stats().cached_bytes <= (size_t(1) << 20));
  CHECK(cpu::buffer_cache_stats().limit_bytes == (size_t(1) << 20));
  // 0 turns caching off and empties the cache.
  cpu::set_buffer_cache_limit(0);
  CHECK(cpu::buffer_cache_stats().cached_bytes == 0);
  {
    array e = arange(4096, float32);
    e.eval();
  }
  CHECK(cpu::buffer_cache_stats().cached_bytes == 0);
  cpu::set_buffer_cache_limit(size_t(64) << 20);
  cpu::clear_buffer_cache();
  CHECK(cpu::buffer_cache_stats().cached_blocks == 0);
}

TEST_CASE("reused buffers do not leak old values into zero-initialised results") {
  cpu::set_buffer_cache_limit(size_t(64) << 20);
  for (int round = 0; round < 3; ++round) {
    {
      array junk = arange(1000, float32) + 7.0f;
      junk.eval();
    }
    // Results that start from zeros: zeros, pad, scatter_add, a sum.
    test::check_close(zeros({1000}), std::vector<double>(1000, 0.0), {1000});
    array p = pad(ones({998}), {{1, 1}});
    p.eval();
    CHECK(test::values(p)[0] == 0.0);
    CHECK(test::values(p)[999] == 0.0);
    array s = scatter_add(zeros({1000}), array({3}, {1}, int64), ones({1}), 0);
    CHECK(test::values(sum(s))[0] == 1.0);
  }
}

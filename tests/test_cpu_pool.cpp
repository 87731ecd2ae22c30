// The CPU thread pool's two ways of splitting work: parallel_for (static
// chunks of at least `grain` items) and parallel_for_each (one item at a
// time, claimed by the next free thread).
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "cpu/parallel.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("parallel_for_each runs every item exactly once, as ranges of one") {
  for (int64_t n : {0, 1, 2, 3, 12, 257}) {
    INFO("n " << n);
    std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
    std::atomic<int> bad_ranges{0};
    cpu::parallel_for_each(n, [&](int64_t b, int64_t e) {
      if (e != b + 1 && !(b == 0 && e == n)) ++bad_ranges;
      for (int64_t i = b; i < e; ++i) ++seen[static_cast<size_t>(i)];
    });
    CHECK(bad_ranges == 0);
    for (auto& s : seen) CHECK(s == 1);
  }
}

TEST_CASE("parallel_for_each balances uneven items over the threads") {
  if (cpu::num_threads() < 2) return;  // nothing to balance on one core
  // Item 0 is slow; with two equal static halves the thread holding it would
  // also run items 1..5. Claimed one at a time, another thread takes those.
  std::vector<std::thread::id> owner(12);
  cpu::parallel_for_each(12, [&](int64_t b, int64_t) {
    if (b == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    owner[static_cast<size_t>(b)] = std::this_thread::get_id();
  });
  int with_slow = 0;
  for (auto& id : owner) with_slow += id == owner[0];
  CHECK(with_slow == 1);
}

TEST_CASE("nested parallel_for_each and parallel_for run inline and stay complete") {
  std::vector<std::atomic<int>> seen(6 * 100);
  cpu::parallel_for_each(6, [&](int64_t b, int64_t) {
    cpu::parallel_for(100, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) ++seen[static_cast<size_t>(b * 100 + i)];
    });
  });
  for (auto& s : seen) CHECK(s == 1);
}

TEST_CASE("an exception in one item reaches the caller") {
  CHECK_THROWS_AS(cpu::parallel_for_each(8,
                                         [](int64_t b, int64_t) {
                                           if (b == 5) throw std::runtime_error("item 5");
                                         }),
                  std::runtime_error);
}

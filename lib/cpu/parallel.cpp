#include "cpu/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mfx::cpu {

namespace {

thread_local bool in_worker = false;

class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      stopping_.store(true, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs chunks 0..chunks-1 of `job`; the caller takes part.
  void run(int chunks, const std::function<void(int)>& job) {
    std::unique_lock<std::mutex> call(call_mu_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      next_ = 0;
      chunks_ = chunks;
      pending_ = chunks;
      error_ = nullptr;
      ++generation_;
      remaining_.store(chunks, std::memory_order_relaxed);
      published_.store(generation_, std::memory_order_release);
    }
    cv_.notify_all();
    in_worker = true;  // nested parallel_for calls from the caller run inline
    work();
    in_worker = false;
    spin_until([&] { return remaining_.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    for (;;) {
      int i;
      const std::function<void(int)>* job;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!job_ || next_ >= chunks_) return;
        i = next_++;
        job = job_;
      }
      try {
        (*job)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mu_);
      remaining_.store(--pending_, std::memory_order_release);
      if (pending_ == 0) done_cv_.notify_all();
    }
  }

  // Eager programs run many short parallel regions back to back: a thread
  // that sleeps between them pays a futex wake-up (tens of microseconds) on
  // each, which profiles showed as ~8 % of a training step in the kernel's
  // scheduler. So a thread first polls for a while, then sleeps. BLAS runs
  // single-threaded on this pool, so nothing else spins on these cores.
  template <typename Ready>
  static void spin_until(Ready ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (int i = 0; !ready(); ++i) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
      if ((i & 63) == 63 && std::chrono::steady_clock::now() >= until) return;
    }
  }

  void loop() {
    in_worker = true;
    uint64_t seen = 0;
    for (;;) {
      spin_until([&] {
        return published_.load(std::memory_order_acquire) != seen ||
               stopping_.load(std::memory_order_acquire);
      });
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || (generation_ != seen && job_); });
        if (stop_) return;
        seen = generation_;
      }
      work();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex call_mu_, mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int next_ = 0, chunks_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  // Copies of generation_, pending_ and stop_ that spinning threads read
  // without the lock; the mutex and condition variables stay the protocol.
  std::atomic<uint64_t> published_{0};
  std::atomic<int> remaining_{0};
  std::atomic<bool> stopping_{false};
  static constexpr std::chrono::microseconds kSpin{100};
  std::exception_ptr error_;
};

int configured_threads() {
  if (const char* env = std::getenv("MFX_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

Pool& pool() {
  static Pool p(configured_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  int64_t max_chunks = std::max<int64_t>(1, n / std::max<int64_t>(grain, 1));
  int chunks = static_cast<int>(std::min<int64_t>(max_chunks, num_threads()));
  if (chunks <= 1 || in_worker) {
    fn(0, n);
    return;
  }
  int64_t step = (n + chunks - 1) / chunks;
  pool().run(chunks, [&](int c) {
    int64_t b = c * step;
    int64_t e = std::min(n, b + step);
    if (b < e) fn(b, e);
  });
}

void parallel_for_each(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (n == 1 || num_threads() == 1 || in_worker || n > INT32_MAX) {
    fn(0, n);
    return;
  }
  pool().run(static_cast<int>(n), [&](int i) { fn(i, i + 1); });
}

}  // namespace mfx::cpu

// A small process-wide thread pool for CPU kernels (internal). Large
// elementwise and reduction loops split their range across the cores;
// small ones run inline, where a hand-off would cost more than it saves.
#pragma once

#include <cstdint>
#include <functional>

namespace mfx::cpu {

/// Number of threads parallel_for uses (MFX_NUM_THREADS, else the core count).
int num_threads();

/// Runs fn(begin, end) over disjoint chunks covering [0, n). Chunks hold at
/// least `grain` items; with one chunk, fn runs on the calling thread.
/// Nested calls from inside a worker run inline.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

/// Runs fn(i, i + 1) for every i in [0, n), each item claimed by the next
/// free thread: for a few uneven items (the lanes of a stitched kernel),
/// where equal static chunks would leave one thread waiting for the other.
/// Nested calls from inside a worker run inline.
void parallel_for_each(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

/// Items per chunk below which an elementwise loop is not worth splitting.
inline constexpr int64_t kElementwiseGrain = 1 << 15;

}  // namespace mfx::cpu

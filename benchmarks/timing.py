"""Timing shared by the Python benchmarks, the same rule as mfx's bench::median_ms."""
import statistics
import time


def median_ms(fn, min_seconds=1.0, min_iters=3, max_iters=50):
    """Median wall time of fn() in ms: one warm-up call, then at least
    min_iters calls and min_seconds of timing, at most max_iters calls."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= max_iters:
            break
    return statistics.median(times)

// The CPU buffer cache (internal; the public view is in include/mfx/cpu.h):
// freed array buffers are kept by size and handed out again, so eager code
// does not map and zero fresh pages for every op (large blocks come from
// mmap, and the kernel zero-fills each new page on first touch).
#pragma once

#include <cstddef>

#include "mfx/cpu.h"

namespace mfx::cpu {

/// A block of at least `nbytes` bytes, 64-byte aligned: a cached one when a
/// cached block fits with little waste, else a new one. Throws
/// std::runtime_error when memory is exhausted.
void* acquire_buffer(size_t nbytes);

/// Returns a block acquire_buffer gave for `nbytes`: cached while the cache
/// stays within its limit, else freed. A reused block may be up to a
/// quarter larger than its request; it is filed (and counted) under the
/// request's size, which it certainly holds.
void release_buffer(void* ptr, size_t nbytes);

}  // namespace mfx::cpu

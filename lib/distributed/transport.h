// The transport under mfx::distributed (internal): MPI when the build has
// it, else a single-process stand-in.
#pragma once

#include <cstddef>
#include <string>

#include "mfx/dtype.h"

namespace mfx::distributed::transport {

/// Initialises the transport if the environment asks for it; returns false
/// when this process is alone.
bool start();
bool started();
int rank();
int size();
const char* name();
/// In-place sum (or logical or for bool) of `count` elements.
void all_reduce_sum(void* data, size_t count, Dtype dtype);
/// Every rank contributes `bytes`; `out` receives size() * bytes in rank order.
void all_gather(const void* in, void* out, size_t bytes);
void broadcast(void* data, size_t bytes, int root);
void barrier();
void stop();

}  // namespace mfx::distributed::transport

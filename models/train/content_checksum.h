// The checksum a checkpoint stores in its metadata (internal): FNV-1a 64 of
// its content as loaded, so any change to tensor bytes, names, dtypes,
// shapes or metadata values (a flipped bit on disk) is detected on load.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "mfx/tree.h"

namespace mfx::train::detail {

/// FNV-1a 64 over, in order: every leaf of `tree` by dotted path (path,
/// dtype name, shape, row-major element bytes; bools as one byte 0/1), then
/// every `metadata` entry (key, value) except `skip_key`. Strings and shapes
/// are length-prefixed so different contents cannot run together.
uint64_t content_checksum(const Tree& tree, const std::map<std::string, std::string>& metadata,
                          const std::string& skip_key);

/// "fnv1a64:" and 16 lower-case hex digits.
std::string format_checksum(uint64_t sum);

}  // namespace mfx::train::detail

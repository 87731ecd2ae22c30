// Saving and loading arrays in the safetensors format
// (8-byte little-endian header length, JSON header, raw little-endian data).
#pragma once

#include <map>
#include <string>

#include "mfx/array.h"
#include "mfx/tree.h"

namespace mfx {

/// Writes named arrays atomically (temporary file + rename): a crash never
/// leaves a half-written file. `metadata` goes into "__metadata__".
void save_safetensors(const std::string& path, const std::map<std::string, array>& arrays,
                      const std::map<std::string, std::string>& metadata = {});
/// Reads all arrays; corrupt or truncated files throw std::runtime_error
/// naming the file and the problem.
std::map<std::string, array> load_safetensors(const std::string& path,
                                              std::map<std::string, std::string>* metadata = nullptr);

/// Saves a Tree under its dotted leaf paths; the structure is recorded in the
/// metadata so load restores lists and dicts exactly.
void save_tree(const std::string& path, const Tree& tree,
               const std::map<std::string, std::string>& metadata = {});
Tree load_tree(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace mfx

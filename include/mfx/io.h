// Saving and loading arrays in the safetensors format
// (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {"key": "value"},
//    "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...}
// padded with spaces to a multiple of 8, then the raw little-endian tensor
// bytes (offsets are relative to the start of that data).
//
// Dtype codes: BOOL, U8, I32, I64, F16, BF16, F32, F64.
#pragma once

#include <map>
#include <string>

#include "mfx/array.h"
#include "mfx/tree.h"

namespace mfx {

/// Writes named arrays (evaluating them together; views are written in
/// row-major order, values bit-exact), contiguous in sorted name order.
/// The file is written atomically: a temporary file in the same directory
/// is written, fsync'ed and renamed over `path`, so a crash never leaves a
/// half-written file. `metadata` goes into "__metadata__" (omitted when
/// empty). Throws std::invalid_argument for null arrays or the reserved name
/// "__metadata__", and std::runtime_error naming the path and the system
/// error when the file cannot be written (no temporary file is left behind).
void save_safetensors(const std::string& path, const std::map<std::string, array>& arrays,
                      const std::map<std::string, std::string>& metadata = {});
/// Reads all arrays (evaluated, row-major) and, when `metadata` is given,
/// the "__metadata__" strings. Every field is validated before any data is
/// read: corrupt or truncated files, unknown dtype codes, inconsistent or
/// overlapping offsets and non-string metadata throw std::runtime_error
/// naming the file and the problem. Gaps between tensors and bytes after the
/// last tensor are tolerated.
std::map<std::string, array> load_safetensors(
    const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

/// Metadata key under which save_tree records the tree's nesting (a JSON
/// value: objects for dicts, arrays for lists, the tensor name for a leaf).
inline constexpr const char* tree_metadata_key = "mfx.tree";

/// Saves a Tree's leaves under their dotted paths (Tree::flatten) and records
/// the structure in the metadata so load_tree restores lists and dicts
/// exactly, empty ones included. Throws std::invalid_argument when two leaves
/// share a path (dict keys containing dots) or `metadata` uses the reserved
/// key tree_metadata_key; I/O errors as save_safetensors.
void save_tree(const std::string& path, const Tree& tree,
               const std::map<std::string, std::string>& metadata = {});
/// Loads a tree saved by save_tree. Files without the structure record (for
/// example PyTorch state dicts such as "backbone.0.body.layer1.0.conv1.weight")
/// are rebuilt with Tree::from_flat. The returned metadata excludes
/// tree_metadata_key. Errors as load_safetensors.
Tree load_tree(const std::string& path, std::map<std::string, std::string>* metadata = nullptr);

}  // namespace mfx

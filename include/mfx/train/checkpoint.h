// Training checkpoints: parameters, optimiser state, RNG key, epoch, step and
// free-form JSON metadata in one safetensors file (mfx/io.h save_tree), so a
// run resumed from a checkpoint continues bit-identically.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mfx/array.h"
#include "mfx/tree.h"

namespace mfx::train {

/// Everything a training run needs to continue where it stopped.
struct Checkpoint {
  Tree params;
  /// Optimiser state as returned by optim::AdamW/SGD (init / update).
  Tree opt_state;
  /// The RNG key the next step will use (int64 [2]); a null array is
  /// allowed and comes back null.
  array rng_key;
  /// Completed epochs and optimiser steps (the caller's convention; stored
  /// as given).
  int64_t epoch = 0;
  int64_t step = 0;
  /// Extra metadata as the text of a JSON object (best metric so far,
  /// configuration, ...); stored in compact form (load_checkpoint returns
  /// e.g. {"best_ap":0.25} for { "best_ap": 0.25 }).
  std::string extra = "{}";
};

/// File names inside a checkpoint directory.
inline constexpr const char* last_checkpoint_file = "last.safetensors";
inline constexpr const char* best_checkpoint_file = "best.safetensors";

/// Writes `ckpt` to `dir`/last.safetensors (creating `dir`), also to
/// `dir`/best.safetensors when `best` is true, and to `dir`/`also_as` when
/// that is not empty (a file name such as "epoch10.safetensors"). Each file is replaced
/// atomically (temporary file, fsync, rename), so a failed or interrupted
/// save leaves the previous checkpoint intact. Arrays are evaluated first;
/// errors during their evaluation propagate before any file is touched.
/// Returns the path of last.safetensors. Throws std::invalid_argument when
/// `extra` is not a JSON object, and std::runtime_error naming the path for
/// I/O errors.
std::string save_checkpoint(const std::string& dir, const Checkpoint& ckpt, bool best = false,
                            const std::string& also_as = "");

/// Reads a checkpoint written by save_checkpoint; every array comes back
/// with the saved dtype, shape and bits. Throws std::runtime_error naming
/// the path for missing files, corrupt data and files that are not mfx
/// checkpoints.
Checkpoint load_checkpoint(const std::string& path);

/// `dir`/last.safetensors when it exists, otherwise nullopt (also for a
/// missing directory): the file to pass to load_checkpoint on --resume.
std::optional<std::string> latest_checkpoint(const std::string& dir);

}  // namespace mfx::train

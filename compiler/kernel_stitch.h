// Kernel IR transforms for block fusion (docs/design.md §4.3):
// kernels that share leading grid axes (one image, one decoder layer) become
// one kernel whose grid point runs all their phases in order, so a batch
// element's whole subgraph (row and column reductions included) is one launch.
#pragma once

#include <string>
#include <vector>

#include "compiler/kernel_ir.h"

namespace mfx::compiler {

/// The same computation with only the first `keep` grid axes left as the
/// grid: the others become leading axes of every phase domain and leading
/// dims of every local (a local then holds one value per former grid point).
/// `keep` >= the grid rank returns the kernel unchanged.
Kernel regrid(const Kernel& kernel, size_t keep);

/// One part of a stitched kernel: a kernel and, for each of its args, the
/// index of that buffer among the stitched kernel's args.
struct StitchPart {
  const Kernel* kernel;
  std::vector<int> arg_map;
};

/// Runs `parts` (all with the same grid) one after another at every grid
/// point: phases concatenated in order, locals renumbered, loads and stores
/// redirected through the arg maps; part i's locals get region i (they may
/// share memory with other parts'). A buffer one part stores and a later part
/// loads must be an output arg that every grid point writes and reads only in
/// its own slice (the caller checks this); the GPU emitter's barrier between
/// phases then orders the write before the read. Throws std::logic_error when
/// the grids differ or an arg map is malformed.
///
/// With `lanes` (one per part, values 0..L-1, parts of one lane in order),
/// the grid gets a leading axis of L lanes and each part runs only in its
/// lane: independent parts side by side in one launch instead of one after
/// another (a GPU runs L times more blocks).
Kernel stitch(const std::vector<StitchPart>& parts, std::vector<KernelArg> args,
              const std::string& name, const std::vector<int>& lanes = {});

/// Bytes of all locals of a kernel (per grid point: stack on the CPU, shared
/// memory on the GPU).
int64_t local_bytes(const Kernel& kernel);

}  // namespace mfx::compiler

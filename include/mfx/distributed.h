// Data-parallel collectives over processes: sums, gathers and broadcasts of
// arrays and Trees. On the CPU the backend is MPI (run the program under
// `mpirun -np N`); NCCL serves GPUs with the same API (docs/design.md §5.7).
// Without init(), or with one process, every collective is the identity,
// so single-process code needs no special case.
//
// Collectives evaluate their inputs and block until every process has
// called them in the same order with arrays of the same shape and dtype.
#pragma once

#include <string>

#include "mfx/array.h"
#include "mfx/tree.h"

namespace mfx::distributed {

/// Joins the process group described by the environment: under mpirun
/// (OMPI_COMM_WORLD_SIZE / PMI_SIZE set) it initialises MPI; otherwise the
/// group is this process alone. MFX_DISTRIBUTED=0 forces a single process.
/// Idempotent; throws std::runtime_error when the environment asks for
/// several processes but this build has no MPI.
void init();
/// True after init() joined a group of more than one process.
bool is_distributed();
int rank();
int world_size();
/// The backend in use: "mpi" or "single".
std::string backend();

/// Elementwise sum over all processes (every process gets the result).
/// bool sums are logical or; float16/bfloat16 are summed in float32.
array all_sum(const array& x);
/// all_sum / world_size: the mean, e.g. of data-parallel gradients.
array all_mean(const array& x);
/// The arrays of all processes concatenated along axis 0, in rank order.
array all_gather(const array& x);
/// Process `root`'s array on every process (shapes and dtypes must agree).
array broadcast(const array& x, int root = 0);

/// Tree versions: one packed transfer per dtype.
Tree all_sum(const Tree& t);
Tree all_mean(const Tree& t);
Tree broadcast(const Tree& t, int root = 0);

/// Blocks until every process reaches it.
void barrier();
/// Leaves the group (MPI_Finalize); also done at exit.
void finalize();

}  // namespace mfx::distributed

// MPI transport (OpenMPI from Debian). Compiled to a single-process stand-in
// when the build has no MPI: then asking for several processes is an error.
#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "distributed/transport.h"

#ifdef MFX_HAVE_MPI
#include <mpi.h>
#endif

namespace mfx::distributed::transport {

namespace {

bool g_started = false;
int g_rank = 0, g_size = 1;

bool launched_by_mpi() {
  const char* disable = std::getenv("MFX_DISTRIBUTED");
  if (disable && std::string(disable) == "0") return false;
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"}) {
    if (std::getenv(var)) return true;
  }
  return false;
}

#ifdef MFX_HAVE_MPI
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw std::runtime_error(
      fmt::format("[distributed] {} failed on rank {}: {}", what, g_rank, std::string(msg, len)));
}

MPI_Datatype mpi_type(Dtype d) {
  switch (d) {
    case Dtype::bool_:
      return MPI_C_BOOL;
    case Dtype::uint8:
      return MPI_UINT8_T;
    case Dtype::int32:
      return MPI_INT32_T;
    case Dtype::int64:
      return MPI_INT64_T;
    case Dtype::float32:
      return MPI_FLOAT;
    case Dtype::float64:
      return MPI_DOUBLE;
    default:
      throw std::logic_error("[distributed] half types are summed as float32");
  }
}
#endif

}  // namespace

bool start() {
  if (g_started) return g_size > 1;
  if (!launched_by_mpi()) {
    g_started = true;
    return false;
  }
#ifdef MFX_HAVE_MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) check(MPI_Init(nullptr, nullptr), "MPI_Init");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check(MPI_Comm_rank(MPI_COMM_WORLD, &g_rank), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &g_size), "MPI_Comm_size");
  g_started = true;
  std::atexit([] { stop(); });
  return g_size > 1;
#else
  throw std::runtime_error(
      "[distributed] the process was launched by mpirun but this build of mfx has no MPI "
      "(install libopenmpi-dev and rebuild), or set MFX_DISTRIBUTED=0");
#endif
}

bool started() {
  return g_started;
}
int rank() {
  return g_rank;
}
int size() {
  return g_size;
}

const char* name() {
#ifdef MFX_HAVE_MPI
  return g_size > 1 ? "mpi" : "single";
#else
  return "single";
#endif
}

void all_reduce_sum(void* data, size_t count, Dtype dtype) {
  if (g_size == 1 || count == 0) return;
#ifdef MFX_HAVE_MPI
  MPI_Op op = dtype == Dtype::bool_ ? MPI_LOR : MPI_SUM;
  check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), mpi_type(dtype), op,
                      MPI_COMM_WORLD),
        "MPI_Allreduce");
#endif
}

void all_gather(const void* in, void* out, size_t bytes) {
#ifdef MFX_HAVE_MPI
  if (g_size > 1) {
    check(MPI_Allgather(in, static_cast<int>(bytes), MPI_BYTE, out, static_cast<int>(bytes),
                        MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgather");
    return;
  }
#endif
  std::memcpy(out, in, bytes);
}

void broadcast(void* data, size_t bytes, int root) {
#ifdef MFX_HAVE_MPI
  if (g_size > 1) {
    check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
  }
#endif
}

void barrier() {
#ifdef MFX_HAVE_MPI
  if (g_size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void stop() {
#ifdef MFX_HAVE_MPI
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Finalize();
#endif
  g_size = 1;
  g_rank = 0;
}

}  // namespace mfx::distributed::transport

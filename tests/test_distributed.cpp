// Single-process semantics of mfx::distributed (the multi-process checks run
// under mpirun in the test "distributed_mpi_np2").
#include "mfx/distributed.h"
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;

TEST_CASE("collectives are the identity in a single process", "[distributed]") {
  distributed::init();
  distributed::init();  // idempotent
  CHECK(distributed::world_size() == 1);
  CHECK(distributed::rank() == 0);
  CHECK_FALSE(distributed::is_distributed());
  array x({1.0, 2.0});
  check_close(distributed::all_sum(x), {1.0, 2.0}, {2});
  check_close(distributed::all_mean(x), {1.0, 2.0}, {2});
  check_close(distributed::all_gather(x), {1.0, 2.0}, {2});
  check_close(distributed::broadcast(x, 0), {1.0, 2.0}, {2});
  Tree t{{"a", x}};
  CHECK(distributed::all_sum(t).same_structure(t));
  distributed::barrier();
}

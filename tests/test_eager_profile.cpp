// MFX_EAGER_PROFILE's table: totals per primitive and the costliest
// (primitive, output shape) pairs, largest first. The environment variable
// only switches the recording on in eval; the table is tested directly.
#include "eager_profile.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("the eager profile sums time per primitive and per output shape", "[eval]") {
  detail::eager_profile_add("Multiply", {2, 3}, 0.002);
  detail::eager_profile_add("Multiply", {2, 3}, 0.002);
  detail::eager_profile_add("Multiply", {7}, 0.0005);
  detail::eager_profile_add("Add", {4}, 0.003);
  const std::string text = detail::eager_profile_text(2);
  INFO(text);
  CHECK(text.rfind("4 ops, 7.5 ms\n", 0) == 0);
  CHECK(text.find("by primitive: Multiply x3 4.5 ms (60 %), Add x1 3.0 ms (40 %)") !=
        std::string::npos);
  // Rows: (Multiply, (2,3)) 4 ms, then (Add, (4)) 3 ms; the third is cut.
  const size_t first = text.find("x2      Multiply"), second = text.find("x1      Add");
  CHECK(first != std::string::npos);
  CHECK(second != std::string::npos);
  CHECK(first < second);
  CHECK(text.find("(2,3)") != std::string::npos);
  CHECK(text.find("-> (7)") == std::string::npos);
}

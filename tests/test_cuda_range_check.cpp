// The device-side index range check as far as a machine without a GPU can
// check it: the fatbin holds both kernels, the op table round-trips names,
// only int32/int64 indices go to the device, and a device that never ran a
// check has nothing to report (no driver call). tests/gpu_jit.cpp runs the
// checks on a GPU.
#include <string>

#include "cuda/range_check.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("the range-check fatbin is embedded with an int32 and an int64 kernel", "[cuda]") {
  auto [bytes, size] = cuda::range_check_fatbin();
#ifdef MFX_EXPECT_CUDA_KERNELS
  REQUIRE(cuda::range_check_kernels_built());
  const std::string image(reinterpret_cast<const char*>(bytes), size);
  CHECK(static_cast<unsigned char>(image[0]) == 0x50);  // fatbin magic 0xBA55ED50
  CHECK(static_cast<unsigned char>(image[3]) == 0xBA);
  CHECK(image.find("range_check_i32") != std::string::npos);
  CHECK(image.find("range_check_i64") != std::string::npos);
#else
  CHECK_FALSE(cuda::range_check_kernels_built());
  CHECK(size == 0);
#endif
}

TEST_CASE("range-check op ids name their op and only int32/int64 indices are checked on the device",
          "[cuda]") {
  const int64_t take = cuda::range_check_op_id("take");
  const int64_t scatter = cuda::range_check_op_id("scatter_add");
  CHECK(take != scatter);
  CHECK(cuda::range_check_op_id("take") == take);
  CHECK(cuda::range_check_op_name(take) == "take");
  CHECK(cuda::range_check_op_name(scatter) == "scatter_add");
  CHECK(cuda::range_check_op_name(12345) == "?");
  CHECK(cuda::range_check_on_device(Dtype::int32));
  CHECK(cuda::range_check_on_device(Dtype::int64));
  CHECK_FALSE(cuda::range_check_on_device(Dtype::uint8));
  CHECK_FALSE(cuda::range_check_on_device(Dtype::float32));
  CHECK_THROWS_WITH(cuda::range_check(Dtype::uint8, 0, 0, 4, 3, "take", 0, nullptr),
                    Catch::Contains("[take]") && Catch::Contains("uint8"));
}

TEST_CASE("a device without queued range checks reports nothing", "[cuda]") {
  CHECK_NOTHROW(cuda::report_range_errors(0));
  CHECK_NOTHROW(cuda::report_range_errors(7));
}

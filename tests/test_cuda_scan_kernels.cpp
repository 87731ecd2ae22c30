// The device cumsum kernels as far as a machine without a GPU can check
// them: the fatbin holds a kernel for every dtype pair scan_supported
// accepts, and the others are refused. tests/gpu_scan.cpp compares them bit
// for bit with the CPU on a GPU.
#include <string>

#include "cuda/scan.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("the scan fatbin holds a kernel for every supported dtype pair", "[cuda]") {
  CHECK(cuda::scan_supported(Dtype::float32, Dtype::float32));
  CHECK(cuda::scan_supported(Dtype::float64, Dtype::float64));
  CHECK_FALSE(cuda::scan_supported(Dtype::float32, Dtype::float64));
  CHECK_FALSE(cuda::scan_supported(Dtype::float16, Dtype::float16));
  CHECK_FALSE(cuda::scan_supported(Dtype::bfloat16, Dtype::bfloat16));
  for (Dtype in : {Dtype::bool_, Dtype::uint8, Dtype::int32, Dtype::int64}) {
    for (Dtype out : {Dtype::int32, Dtype::int64}) CHECK(cuda::scan_supported(in, out));
    CHECK_FALSE(cuda::scan_supported(in, Dtype::float32));
  }
  auto [bytes, size] = cuda::scan_fatbin();
#ifdef MFX_EXPECT_CUDA_KERNELS
  REQUIRE(cuda::scan_kernels_built());
  const std::string image(reinterpret_cast<const char*>(bytes), size);
  for (const char* name : {"scan_sum_f32", "scan_sum_f64", "scan_sum_bool_i32", "scan_sum_u8_i32",
                           "scan_sum_i32_i32", "scan_sum_i64_i32", "scan_sum_bool_i64",
                           "scan_sum_u8_i64", "scan_sum_i32_i64", "scan_sum_i64_i64"}) {
    INFO(name);
    CHECK(image.find(name) != std::string::npos);
  }
#else
  CHECK_FALSE(cuda::scan_kernels_built());
  CHECK(size == 0);
#endif
}

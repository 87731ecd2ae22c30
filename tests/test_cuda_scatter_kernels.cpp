// The device scatter kernels as far as a machine without a GPU can check
// them: the fatbin holds a kernel for every dtype scatter_supported accepts.
// tests/gpu_scatter.cpp compares them bit for bit with the CPU on a GPU.
#include <string>

#include "cuda/scatter.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("the scatter fatbin holds a kernel for every supported dtype", "[cuda]") {
  for (Dtype t :
       {Dtype::float32, Dtype::float64, Dtype::int32, Dtype::int64, Dtype::uint8, Dtype::bool_}) {
    CHECK(cuda::scatter_supported(t));
  }
  CHECK_FALSE(cuda::scatter_supported(Dtype::float16));
  CHECK_FALSE(cuda::scatter_supported(Dtype::bfloat16));
  auto [bytes, size] = cuda::scatter_fatbin();
#ifdef MFX_EXPECT_CUDA_KERNELS
  REQUIRE(cuda::scatter_kernels_built());
  const std::string image(reinterpret_cast<const char*>(bytes), size);
  for (const char* name :
       {"scatter_f32", "scatter_f64", "scatter_i32", "scatter_i64", "scatter_u8", "scatter_bool"}) {
    INFO(name);
    CHECK(image.find(name) != std::string::npos);
  }
#else
  CHECK_FALSE(cuda::scatter_kernels_built());
  CHECK(size == 0);
#endif
}

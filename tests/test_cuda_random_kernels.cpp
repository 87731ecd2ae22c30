// The device random kernels as far as a machine without a GPU can check
// them: the fatbin holds every kernel the launcher looks up, and the clamp
// bounds the device kernels receive are those the CPU kernel uses (the
// nearest representable values inside [low, high)). tests/gpu_random.cpp
// compares the kernels bit for bit with the CPU on a GPU.
#include <cmath>
#include <string>

#include "cuda/random.h"
#include "primitives/random.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("the random fatbin is embedded with every kernel", "[cuda]") {
  auto [bytes, size] = cuda::random_fatbin();
#ifdef MFX_EXPECT_CUDA_KERNELS
  REQUIRE(cuda::random_kernels_built());
  const std::string image(reinterpret_cast<const char*>(bytes), size);
  for (const char* name :
       {"random_split", "random_bits", "random_uniform_f32", "random_uniform_f64",
        "random_integer_u8", "random_integer_i32", "random_integer_i64"}) {
    INFO(name);
    CHECK(image.find(name) != std::string::npos);
  }
#else
  CHECK_FALSE(cuda::random_kernels_built());
  CHECK(size == 0);
#endif
}

TEST_CASE("uniform bounds are the representable values inside [low, high)", "[cuda][random]") {
  auto [lo, hi] = uniform_bounds(Dtype::float32, 0.0, 1.0);
  CHECK(lo == 0.0);
  CHECK(hi == static_cast<double>(std::nextafter(1.0f, 0.0f)));
  auto [lo64, hi64] = uniform_bounds(Dtype::float64, -1.0, 2.0);
  CHECK(lo64 == -1.0);
  CHECK(hi64 == std::nextafter(2.0, 0.0));
  // 0.1 is not a float: the bound is the next float above it.
  auto [lo_f, hi_f] = uniform_bounds(Dtype::float32, 0.1, 0.2);
  CHECK(lo_f >= 0.1);
  CHECK(static_cast<double>(std::nextafter(static_cast<float>(lo_f), 0.0f)) < 0.1);
  CHECK(hi_f < 0.2);
  mfx::test::check_throws_with([] { uniform_bounds(Dtype::float16, 1.0, 1.0); },
                               {"[uniform]", "no float16 value"});
  // The CPU primitive clamps to the same bounds: every value lies inside them.
  array u = random::uniform(random::key(3), {4096}, 0.1, 0.2, float32);
  for (float v : u.to_vector<float>()) {
    CHECK(v >= lo_f);
    CHECK(v <= hi_f);
  }
}

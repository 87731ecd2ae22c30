// The hand-written CUDA kernels as far as a machine without a GPU can check
// them: the fatbin is embedded when nvcc was available and holds every
// kernel the launchers look up, and problems the kernels cannot take are
// rejected with messages naming the sizes. tests/gpu_ms_deform_attn.cpp
// runs them on a GPU.
#include <string>

#include "cuda/msda.h"
#include "test_utils.h"

using namespace mfx;

TEST_CASE("the ms_deform_attn fatbin is embedded with its four kernels", "[cuda]") {
  auto [bytes, size] = cuda::msda_fatbin();
#ifdef MFX_EXPECT_CUDA_KERNELS
  REQUIRE(cuda::msda_kernels_built());
  REQUIRE(size > 1000);
  const std::string image(reinterpret_cast<const char*>(bytes), size);
  // A fatbin starts with its magic number 0xBA55ED50 (little endian).
  CHECK(static_cast<unsigned char>(image[0]) == 0x50);
  CHECK(static_cast<unsigned char>(image[3]) == 0xBA);
  for (const char* name :
       {"msda_forward_f32", "msda_forward_f64", "msda_backward_f32", "msda_backward_f64"}) {
    INFO(name);
    CHECK(image.find(name) != std::string::npos);
  }
#else
  CHECK_FALSE(cuda::msda_kernels_built());
  CHECK(size == 0);
#endif
}

TEST_CASE("ms_deform_attn GPU problems outside the kernels' range are rejected", "[cuda]") {
  cuda::MsdaProblem p;
  p.batch = 2;
  p.queries = 5;
  p.heads = 8;
  p.channels = 32;
  p.points = 4;
  p.shapes = {{4, 6}, {2, 3}};
  p.positions = 30;
  CHECK_NOTHROW(cuda::msda_check_problem(p, float32));
  CHECK_NOTHROW(cuda::msda_check_problem(p, float64));
  mfx::test::check_throws_with([&] { cuda::msda_check_problem(p, float16); },
                               {"[ms_deform_attn]", "float16"});
  auto bad = p;
  bad.positions = 31;
  mfx::test::check_throws_with([&] { cuda::msda_check_problem(bad, float32); },
                               {"[ms_deform_attn]", "cover 30 positions", "positions 31"});
  bad = p;
  bad.channels = 300;
  mfx::test::check_throws_with([&] { cuda::msda_check_problem(bad, float32); },
                               {"channels per head", "channels 300"});
  bad = p;
  bad.shapes.assign(17, {1, 1});
  bad.positions = 17;
  mfx::test::check_throws_with([&] { cuda::msda_check_problem(bad, float32); },
                               {"levels are supported", "levels 17"});
}

// The sort CUDA kernels as far as a machine without a GPU can check them:
// the fatbin is embedded when nvcc was available and holds both kernels of
// every dtype the launcher looks up, the scratch sizes follow the chunked
// merge sort, and problems the kernels cannot take are rejected with
// messages naming the sizes. tests/gpu_sort.cpp runs them on a GPU.
#include <string>

#include "cuda/sort.h"
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_throws_with;

TEST_CASE("the sort fatbin is embedded with a block and a merge kernel per dtype", "[cuda]") {
  auto [bytes, size] = cuda::sort_fatbin();
#ifdef MFX_EXPECT_CUDA_KERNELS
  REQUIRE(cuda::sort_kernels_built());
  REQUIRE(size > 1000);
  const std::string image(reinterpret_cast<const char*>(bytes), size);
  // A fatbin starts with its magic number 0xBA55ED50 (little endian).
  CHECK(static_cast<unsigned char>(image[0]) == 0x50);
  CHECK(static_cast<unsigned char>(image[3]) == 0xBA);
  for (const char* suffix : {"bool", "u8", "i32", "i64", "f16", "bf16", "f32", "f64"}) {
    for (const char* kind : {"sort_block_", "sort_merge_"}) {
      const std::string name = std::string(kind) + suffix;
      INFO(name);
      CHECK(image.find(name) != std::string::npos);
    }
  }
#else
  CHECK_FALSE(cuda::sort_kernels_built());
  CHECK(size == 0);
#endif
}

TEST_CASE("sort scratch: none in shared memory, one or two buffers for merges", "[cuda]") {
  cuda::SortProblem p;
  p.rows = 3;
  p.n = cuda::kSortChunk;
  p.k = p.n;
  CHECK(cuda::sort_scratch_bytes(p, float32) == 0);
  p.n = 1;
  p.k = 1;
  CHECK(cuda::sort_scratch_bytes(p, float64) == 0);
  // One merge pass (two runs) goes from scratch to the outputs: one buffer of
  // 3 x 8192 keys and indices (each part a multiple of 256 bytes).
  p.n = 2 * cuda::kSortChunk;
  p.k = 5;
  CHECK(cuda::sort_scratch_bytes(p, float32) == 3 * 8192 * (4 + 4));
  CHECK(cuda::sort_scratch_bytes(p, int64) == 3 * 8192 * (8 + 4));
  CHECK(cuda::sort_scratch_bytes(p, bfloat16) == 3 * 8192 * (4 + 4));
  // Three runs need two passes, ping-ponging between two buffers; 10001
  // elements round up to whole 256-byte parts (40004 -> 40192 bytes).
  p.rows = 1;
  p.n = 10001;
  p.k = 10001;
  CHECK(cuda::sort_scratch_bytes(p, float32) == 2 * (40192 + 40192));
  CHECK(cuda::sort_scratch_bytes(p, uint8) == 2 * (40192 + 40192));
  p.rows = 0;
  CHECK(cuda::sort_scratch_bytes(p, float32) == 0);
}

TEST_CASE("sort GPU problems outside the kernels' range are rejected", "[cuda]") {
  cuda::SortProblem p;
  p.rows = 4;
  p.n = 300;
  p.k = 300;
  p.op = "TopK";
  for (Dtype d : {bool_, uint8, int32, int64, float16, bfloat16, float32, float64}) {
    CHECK_NOTHROW(cuda::sort_check_problem(p, d));
  }
  p.n = 0;
  p.k = 0;
  CHECK_NOTHROW(cuda::sort_check_problem(p, float32));
  auto bad = p;
  bad.n = 300;
  bad.k = 301;
  check_throws_with(
      [&] { cuda::sort_check_problem(bad, float32); },
      {"[TopK] GPU sort kernel", "k must be in [0, 300]", "rows 4, n 300, k 301", "float32"});
  bad.k = -1;
  check_throws_with([&] { cuda::sort_check_problem(bad, int64); }, {"[TopK]", "k -1", "int64"});
  bad = p;
  bad.rows = -2;
  check_throws_with([&] { cuda::sort_check_problem(bad, float32); }, {"negative sizes", "rows -2"});
  bad = p;
  bad.n = int64_t{1} << 31;
  bad.k = 1;
  check_throws_with([&] { cuda::sort_check_problem(bad, float32); },
                    {"rows longer than", "n 2147483648"});
  // More blocks than a launch takes: 2^31 rows of one run each.
  bad = p;
  bad.n = 10;
  bad.k = 10;
  bad.rows = int64_t{1} << 31;
  check_throws_with([&] { cuda::sort_check_problem(bad, float32); },
                    {"too many rows", "rows 2147483648"});
  // Merges use one thread per element: 2^40 elements are too many.
  bad.n = int64_t{1} << 20;
  bad.k = 1;
  bad.rows = int64_t{1} << 20;
  check_throws_with([&] { cuda::sort_check_problem(bad, float32); },
                    {"too many elements", "n 1048576"});
}

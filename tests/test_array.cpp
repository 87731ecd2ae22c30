// The array handle: construction, metadata, evaluation, views, deep graphs.
#include "mfx/gpu.h"
#include "test_utils.h"

using namespace mfx;
using mfx::test::check_close;

TEST_CASE("array from scalars and lists", "[array]") {
  array a(3.5f);
  CHECK(a.ndim() == 0);
  CHECK(a.dtype() == float32);
  CHECK(a.item<float>() == 3.5f);
  array b({1, 2, 3});
  CHECK(b.shape() == Shape{3});
  CHECK(b.dtype() == int32);
  array c({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  CHECK(c.dtype() == float64);
  check_close(c, {1, 2, 3, 4, 5, 6}, {2, 3});
  array d({1, 2, 3, 4}, {2, 2}, float16);
  CHECK(d.dtype() == float16);
  check_close(d, {1, 2, 3, 4}, {2, 2});
  std::vector<float> v{1.5f, -2.f};
  array e(v, {2});
  check_close(e, {1.5, -2}, {2});
}

TEST_CASE("array construction errors name the op and shape", "[array][errors]") {
  mfx::test::check_throws_with([] { array({1, 2, 3}, {2, 2}); }, {"[array]", "(2,2)", "3 values"});
  mfx::test::check_throws_with(
      [] {
        array(1.0f).item<float>(), array({1, 2}).item<int>();
      },
      {"[item]", "(2)"});
}

TEST_CASE("data() checks the dtype and item converts", "[array]") {
  array a({1.25f, 2.5f});
  CHECK(a.data<float>()[1] == 2.5f);
  CHECK_THROWS_AS(a.data<double>(), std::invalid_argument);
  CHECK(array(7).item<double>() == 7.0);
  CHECK(array(true).item<int>() == 1);
}

TEST_CASE("lazy evaluation frees inputs", "[array]") {
  array a({1.f, 2.f});
  array b = a + 1.0f;
  CHECK_FALSE(b.is_evaluated());
  CHECK(b.inputs().size() == 2);
  b.eval();
  CHECK(b.is_evaluated());
  CHECK(b.inputs().empty());
  CHECK_FALSE(b.has_primitive());
}

TEST_CASE("a chain of a million ops neither overflows on eval nor on destruction", "[array]") {
  array x = array(0.0f);
  {
    array y = x;
    for (int i = 0; i < 1000000; ++i) y = y + 1.0f;
    CHECK(y.item<float>() == 1000000.0f);
  }
  {
    array y = x;
    for (int i = 0; i < 1000000; ++i) y = y * 1.0f;
    // destroyed without evaluation
  }
  SUCCEED();
}

TEST_CASE("views share memory", "[array][views]") {
  array a = reshape(arange(6, float32), {2, 3});
  a.eval();
  array t = transpose(a);
  t.eval();
  CHECK(t.buffer() == a.buffer());
  CHECK(t.strides() == Strides{1, 3});
  CHECK_FALSE(t.flags().row_contiguous);
  check_close(t, {0, 3, 1, 4, 2, 5}, {3, 2});
  array b = broadcast_to(array({1.f, 2.f, 3.f}), {4, 3});
  b.eval();
  CHECK(b.strides() == Strides{0, 1});
  array s = slice(a, {0, 2}, {2, -4}, {1, -1});
  check_close(s, {2, 1, 0, 5, 4, 3}, {2, 3});
  // Reshape of a non-contiguous view copies.
  array r = reshape(t, {6});
  check_close(r, {0, 3, 1, 4, 2, 5}, {6});
}

TEST_CASE("Device::parse reads cpu, gpu and gpu:N and names bad spellings", "[array]") {
  CHECK(mfx::Device::parse("cpu") == mfx::Device::cpu());
  for (const char* bad : {"tpu", "gpu:", "gpu:x", "gpu:-1", "gpu:1x", "gpu:+1", "gpu: 1", "CPU"}) {
    INFO(bad);
    mfx::test::check_throws_with([&] { mfx::Device::parse(bad); },
                                 {"[Device::parse]", bad, "cpu, gpu or gpu:N"});
  }
  if (!mfx::gpu::is_available()) {
    // A well-formed GPU spelling without a GPU says why.
    CHECK_THROWS_WITH(mfx::Device::parse("gpu:0"), Catch::Contains("no GPU"));
  } else {
    CHECK(mfx::Device::parse("gpu") == mfx::Device::gpu(0));
  }
}

// Shared helpers for the test suite.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "mfx/mfx.h"

namespace mfx::test {

/// A file of the test data folder: $MFX_TEST_DATA_DIR when set (a bundle run
/// outside the source tree), else the source tree's tests/data.
inline std::string data_path(const std::string& name) {
  const char* dir = std::getenv("MFX_TEST_DATA_DIR");
  return std::string(dir && *dir ? dir : MFX_TEST_DATA_DIR) + "/" + name;
}

/// Values of `a` as doubles in row-major order.
inline std::vector<double> values(array a) {
  return a.to_vector<double>();
}

/// np.arange(n).reshape(shape) as int32.
inline array iota(Shape shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return reshape(arange(n, int32), shape);
}

/// Checks shape and values (|x - y| <= atol + rtol |y|, NaN == NaN).
inline void check_close(array a, const std::vector<double>& expected, const Shape& shape,
                        double rtol = 1e-6, double atol = 1e-6) {
  INFO("shape " << shape_str(a.shape()) << " expected " << shape_str(shape));
  REQUIRE(a.shape() == shape);
  auto got = values(a);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << " expected " << expected[i]);
    if (std::isnan(expected[i])) {
      CHECK(std::isnan(got[i]));
    } else if (std::isinf(expected[i])) {
      CHECK(got[i] == expected[i]);
    } else {
      CHECK(std::abs(got[i] - expected[i]) <= atol + rtol * std::abs(expected[i]));
    }
  }
}

/// Checks that `f` throws std::invalid_argument whose message contains all `parts`.
template <typename F>
void check_throws_with(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("expected std::invalid_argument");
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    for (auto& p : parts) {
      INFO("message: " << msg << " should contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
}

/// Checks that `f` throws std::runtime_error whose message contains all `parts`.
template <typename F>
void check_runtime_error_with(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("expected std::runtime_error");
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    for (auto& p : parts) {
      INFO("message: " << msg << " should contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
}

/// A scratch directory under the system temp dir, removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / ("mfx_test_" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace mfx::test

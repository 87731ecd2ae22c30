// Shared by the libFuzzer targets (built with -DMFX_LIBFUZZER=ON). Each
// target feeds the bytes to one reader and asserts its contract: it returns,
// or throws std::runtime_error whose message names the file; anything else
// (another exception type, a sanitizer report, a message without the name)
// aborts, which libFuzzer records as a finding with the input that caused it.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>

namespace mfx::libfuzz {

[[noreturn]] inline void fail(const char* what, const std::string& message) {
  std::fprintf(stderr, "contract violated: %s: %s\n", what, message.c_str());
  std::abort();
}

/// Runs f(); a std::runtime_error must name `name`, any other exception is
/// a finding.
template <class F>
void expect_clean(const std::string& name, F&& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    if (std::strstr(e.what(), name.c_str()) == nullptr)
      fail("error does not name the input", e.what());
  } catch (const std::exception& e) {
    fail("exception other than std::runtime_error", e.what());
  }
}

/// A per-process scratch file holding the input, for the readers that take
/// a path (libFuzzer may run several jobs side by side).
inline std::string write_scratch(const uint8_t* data, size_t size, const char* suffix) {
  const std::string path = "/tmp/mfx_libfuzz_" + std::to_string(::getpid()) + suffix;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!f) fail("scratch file", path);
  return path;
}

}  // namespace mfx::libfuzz

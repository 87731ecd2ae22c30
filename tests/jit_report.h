// Reading a jitted function's fusion report in tests.
#pragma once

#include <nlohmann/json.hpp>

#include "mfx/jit.h"

namespace mfx::test {

/// Fused kernels per call in the report of f's last signature.
inline int fused_kernels(const JitFunction& f) {
  const auto j = nlohmann::json::parse(f.report_json());
  int n = 0;
  for (auto& k : j["kernels"]) n += k["kind"] == "fused";
  return n;
}

}  // namespace mfx::test

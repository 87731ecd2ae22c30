// Random programs over the public API for the fuzzer: one op applied to
// random inputs with random parameters, a third of them followed by one to
// three more ops (elementwise, reductions, views, matmul: the chains the jit
// fuses), valid and invalid alike (ranks 0-5,
// zero-size and huge dims, every dtype, bad axes and permutations,
// out-of-range indices, mismatched shapes). A case is a pure function of its
// seed: the driver regenerates it to print the program of a failing seed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mfx/mfx.h"

namespace mfx::fuzz {

struct InputSpec {
  Shape shape;
  Dtype dtype;
};

struct Case {
  uint64_t seed = 0;
  std::string text;  // the program, readable: "sum(x0: float32 (2,0,3), axes=(1,-4), keepdims=1)"
  std::vector<InputSpec> inputs;
  std::function<array(const std::vector<array>&)> program;
  bool differentiable = false;  // smooth in its float inputs: checked against finite differences
  // The public ops the program calls: a refusal must start with "[name]" for
  // one of them (an error naming an op the caller never used is a bug).
  // make_case fills in the op's own name when the op leaves this empty.
  std::vector<std::string> names;
};

/// The case of `seed` (draws parameters only; builds no array).
Case make_case(uint64_t seed);

/// The inputs of a case: values in [-3, 3] drawn from the seed; an input
/// whose shape is over the size limit is a broadcast scalar (so it throws).
std::vector<array> make_inputs(const Case& c);

}  // namespace mfx::fuzz

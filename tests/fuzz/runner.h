// Running one fuzz case and classifying what happened (ok, a clean error,
// a crash, a wrong answer), in this process or in a forked child so that a
// crash is caught and reported with its seed.
#pragma once

#include <string>

#include "fuzz/program.h"

namespace mfx::fuzz {

enum class Outcome {
  ok,             // ran; jit (and the gradient, where checked) agreed with eager
  clean_error,    // std::invalid_argument/out_of_range/runtime_error, message "[op] ..."
  unclean_error,  // any other exception, or a message not naming an op
  crash,          // the child died of a signal, or ran past the time limit
  wrong,          // jit differs from eager, or the gradient from finite differences
  misnamed        // a clean error, but naming an op the program did not call
};

const char* outcome_name(Outcome o);
/// Outcomes that are bugs.
inline bool is_failure(Outcome o) { return o != Outcome::ok && o != Outcome::clean_error; }

struct Result {
  Outcome outcome = Outcome::ok;
  std::string detail;  // the error message or the disagreement
};

struct RunOptions {
  bool jit = true;    // compare a jitted run with eager
  bool grad = true;   // compare the gradient with finite differences (float64)
  int timeout_s = 20;
};

/// The vjp of sum(program(x) * weights) against central differences at the
/// case's inputs cast to float64; empty when they agree, else the mismatch.
std::string check_gradient(const Case& c, const std::vector<array>& inputs);

/// Runs the case here (a crash takes this process down).
Result run_case(const Case& c, const RunOptions& options);

/// Runs the case in a forked child; a signal or a timeout is Outcome::crash.
Result run_case_forked(const Case& c, const RunOptions& options);

}  // namespace mfx::fuzz

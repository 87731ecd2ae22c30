// mfx_fuzz: property-based fuzzing of the public API.
//
//   mfx_fuzz --seeds A:B      run seeds A..B-1, each in a forked child
//   mfx_fuzz --seconds N      run consecutive seeds from --start (default:
//                             the clock) for N seconds
//   mfx_fuzz --case SEED      print the program of SEED and run it here
//   --no-jit, --no-grad       skip the jit / gradient comparisons
//   --verbose                 one line per case
//
// Prints a table (outcome, count, example seed) and every failing seed with
// its program; exits 1 when a case crashed, gave a wrong answer or threw an
// error that is not a clean "[op] ..." message.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "fuzz/runner.h"

using namespace mfx::fuzz;

namespace {

[[noreturn]] void usage() {
  fmt::print(stderr,
             "usage: mfx_fuzz (--seeds A:B | --seconds N [--start S] | --case SEED) [--no-jit] "
             "[--no-grad] [--verbose]\n");
  std::exit(2);
}

struct Tally {
  int count = 0;
  uint64_t example = 0;
};

}  // namespace

int main(int argc, char** argv) {
  uint64_t first = 0, last = 200, start = 0;
  double seconds = 0;
  bool single = false, verbose = false, have_start = false;
  RunOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--seeds") {
      const std::string v = next();
      const size_t colon = v.find(':');
      if (colon == std::string::npos) usage();
      first = std::stoull(v.substr(0, colon));
      last = std::stoull(v.substr(colon + 1));
    } else if (a == "--seconds") {
      seconds = std::stod(next());
    } else if (a == "--start") {
      start = std::stoull(next());
      have_start = true;
    } else if (a == "--case") {
      first = std::stoull(next());
      last = first + 1;
      single = true;
    } else if (a == "--no-jit") {
      options.jit = false;
    } else if (a == "--no-grad") {
      options.grad = false;
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      usage();
    }
  }
  if (single) {
    Case c = make_case(first);
    fmt::print("seed {}: {}\n", first, c.text);
    Result r = run_case(c, options);
    fmt::print("{}: {}\n", outcome_name(r.outcome), r.detail);
    return is_failure(r.outcome) ? 1 : 0;
  }
  if (seconds > 0) {
    first = have_start ? start
                       : static_cast<uint64_t>(
                             std::chrono::system_clock::now().time_since_epoch().count()) %
                             1'000'000'000'000ull;
    last = UINT64_MAX;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::map<Outcome, Tally> table;
  std::vector<std::pair<uint64_t, Result>> failures;
  uint64_t seed = first;
  for (; seed < last; ++seed) {
    if (seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > seconds) {
      break;
    }
    Case c = make_case(seed);
    Result r = run_case_forked(c, options);
    Tally& t = table[r.outcome];
    if (t.count++ == 0) t.example = seed;
    if (verbose) fmt::print("{} {}: {} {}\n", seed, outcome_name(r.outcome), c.text, r.detail);
    if (is_failure(r.outcome)) failures.emplace_back(seed, r);
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("mfx_fuzz: seeds {}..{} ({} cases, {:.1f} s)\n", first, seed - 1, seed - first, took);
  fmt::print("{:<14} {:>8}  {}\n", "outcome", "count", "example seed");
  for (const auto& [o, t] : table) fmt::print("{:<14} {:>8}  {}\n", outcome_name(o), t.count, t.example);
  for (const auto& [s, r] : failures) {
    fmt::print("FAIL seed {} ({}): {}\n    {}\n", s, outcome_name(r.outcome), make_case(s).text,
               r.detail);
  }
  return failures.empty() ? 0 : 1;
}

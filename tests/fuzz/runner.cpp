#include "fuzz/runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "mfx/jit.h"

namespace mfx::fuzz {

namespace {

// Exceptions are sorted by type and message: errors a caller can act on are
// std::invalid_argument, std::out_of_range or std::runtime_error whose
// message starts with "[op]".
Result classify(const std::exception& e, bool expected_type) {
  const std::string msg = e.what();
  if (expected_type && !msg.empty() && msg[0] == '[') return {Outcome::clean_error, msg};
  return {Outcome::unclean_error, fmt::format("{}: {}", expected_type ? "unprefixed" : "type", msg)};
}

template <typename F>
Result guarded(F&& f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    return classify(e, true);
  } catch (const std::out_of_range& e) {
    return classify(e, true);
  } catch (const std::runtime_error& e) {
    // Overflow/range errors of the standard library are not messages of mfx.
    return classify(e, true);
  } catch (const std::exception& e) {
    return classify(e, false);
  }
}

// True when `message` starts with "[op]" for one of the ops the program
// called: "[zeros] (in full) ..." is right, "[full] ..." for zeros is not.
bool names_called_op(const std::string& message, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    if (message.rfind("[" + n + "]", 0) == 0) return true;
  }
  return false;
}

double tolerance(Dtype t) {
  switch (t) {
    case Dtype::float16:
    case Dtype::bfloat16:
      return 1e-2;
    case Dtype::float32:
      return 1e-5;
    case Dtype::float64:
      return 1e-9;
    default:
      return 0.0;
  }
}

// Empty when equal within the dtype's tolerance (NaN equals NaN).
std::string compare(const array& got, const array& want, const char* what) {
  if (got.shape() != want.shape() || got.dtype() != want.dtype()) {
    return fmt::format("{}: {} {} vs eager {} {}", what, dtype_name(got.dtype()),
                       shape_str(got.shape()), dtype_name(want.dtype()), shape_str(want.shape()));
  }
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  const double tol = tolerance(want.dtype());
  for (size_t i = 0; i < w.size(); ++i) {
    if (std::isnan(w[i]) && std::isnan(g[i])) continue;
    if (g[i] == w[i]) continue;
    if (std::abs(g[i] - w[i]) <= tol * (1 + std::abs(w[i]))) continue;
    return fmt::format("{}: element {} is {}, eager {}", what, i, g[i], w[i]);
  }
  return {};
}

}  // namespace

// d/dx sum(program(x) * weights) by vjp against central differences, at up
// to 4 coordinates of each input, all taken as float64 (an integer input is
// cast before the program, so the cast is not differentiated through).
//
// Central differences of a loss L with step h carry a rounding error of
// about eps * |L| / h besides the truncation error: a loss of 1e110 (exp of
// a uint8 input of 255 cast to float64) leaves no digit of the 1e-6-sized
// change that another coordinate makes, and differences give 0 where the
// vjp is right. The allowed error therefore adds that bound, with |L|
// taken as sum(|program(x) * weights|) so that cancelling terms count too;
// where it swamps the derivative the coordinate is in effect not checked.
// So is a coordinate where the one-sided differences disagree (a kink).
std::string check_gradient(const Case& c, const std::vector<array>& inputs) {
  std::vector<array> xs;
  for (const auto& x : inputs) xs.push_back(astype(x, float64));
  array y0 = c.program(xs);
  if (!is_floating(y0.dtype()) || y0.size() == 0 || y0.size() > 4096) return {};
  array w = astype(reshape(arange(y0.size(), float64), y0.shape()), float64) * 0.01 + 0.5;
  auto loss = [&](const std::vector<array>& a) {
    return std::vector<array>{sum(astype(c.program(a), float64) * w)};
  };
  auto magnitude = [&](const std::vector<array>& a) {
    return sum(abs(astype(c.program(a), float64) * w)).item<double>();
  };
  auto [out, grads] = vjp(loss, xs, std::vector<array>{array(1.0)});
  const double centre = out[0].item<double>();  // the loss at xs
  const double h = 1e-6;
  for (size_t k = 0; k < xs.size(); ++k) {
    auto base = xs[k].to_vector<double>();
    auto g = grads[k].to_vector<double>();
    for (size_t t = 0; t < std::min<size_t>(4, base.size()); ++t) {
      const size_t i = (t * 7919) % base.size();
      auto moved = [&](double dx) {
        auto v = base;
        v[i] += dx;
        std::vector<array> a = xs;
        a[k] = array(v, xs[k].shape(), float64);
        return a;
      };
      const double up = loss(moved(h))[0].item<double>(), down = loss(moved(-h))[0].item<double>();
      const double fd = (up - down) / (2 * h);
      if (!std::isfinite(fd) || !std::isfinite(g[i])) continue;
      // 16 ulps of the summed magnitude: the sum's own rounding grows with
      // the number of terms, and both ends of the difference carry it.
      const double rounding = 16 * std::numeric_limits<double>::epsilon() *
                              (magnitude(moved(h)) + magnitude(moved(-h))) / (2 * h);
      const double allowed = 1e-5 * (1 + std::abs(fd)) + rounding;
      // A kink at the step's resolution: the one-sided slopes disagree, so
      // no single derivative exists to compare with (e.g. tied maxima of
      // logsumexp(exp(x)) at x = 255, smooth only within 1e-110 of the tie;
      // the vjp there splits the gradient between the ties).
      const double forward = (up - centre) / h, backward = (centre - down) / h;
      if (std::abs(forward - backward) > 2 * allowed) continue;
      if (std::abs(g[i] - fd) > allowed) {
        return fmt::format("gradient of input {} at element {}: vjp {}, finite differences {}", k,
                           i, g[i], fd);
      }
    }
  }
  return {};
}

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::ok:
      return "ok";
    case Outcome::clean_error:
      return "clean_error";
    case Outcome::unclean_error:
      return "unclean_error";
    case Outcome::crash:
      return "crash";
    case Outcome::wrong:
      return "wrong";
    case Outcome::misnamed:
      return "misnamed";
  }
  return "?";
}

Result run_case(const Case& c, const RunOptions& options) {
  std::vector<array> inputs;
  array eager;
  // An input with a negative or over-limit shape is refused while it is
  // made (broadcast_to), before the program runs: not the program's error.
  Result made = guarded([&] {
    inputs = make_inputs(c);
    return Result{};
  });
  if (made.outcome != Outcome::ok) return made;
  Result r = guarded([&] {
    eager = c.program(inputs);
    eager.eval();
    eager.to_vector<double>();
    return Result{};
  });
  if (r.outcome != Outcome::ok) {
    if (r.outcome == Outcome::clean_error && !names_called_op(r.detail, c.names)) {
      return {Outcome::misnamed, r.detail};
    }
    if (r.outcome == Outcome::clean_error && options.jit && !inputs.empty()) {
      // jit must refuse too (at trace or at run time), and refuse cleanly.
      Result j = guarded([&] {
        ArrayFn f = [&](const std::vector<array>& x) { return std::vector<array>{c.program(x)}; };
        // The same steps as eager: reading the values may be what refused.
        jit(f)(inputs)[0].to_vector<double>();
        return Result{};
      });
      if (j.outcome == Outcome::ok) return {Outcome::wrong, "jit ran where eager refused: " + r.detail};
      if (j.outcome != Outcome::clean_error) return {j.outcome, "jit: " + j.detail};
    }
    return r;
  }
  if (options.jit) {
    Result j = guarded([&] {
      ArrayFn f = [&](const std::vector<array>& x) { return std::vector<array>{c.program(x)}; };
      std::string diff = compare(jit(f)(inputs)[0], eager, "jit");
      return diff.empty() ? Result{} : Result{Outcome::wrong, diff};
    });
    if (j.outcome == Outcome::clean_error) return {Outcome::wrong, "jit refused: " + j.detail};
    if (j.outcome != Outcome::ok) return j;
  }
  if (options.grad && c.differentiable) {
    Result g = guarded([&] {
      std::string diff = check_gradient(c, inputs);
      return diff.empty() ? Result{} : Result{Outcome::wrong, diff};
    });
    // The float64 variant may refuse (e.g. an op without a gradient): not a bug.
    if (g.outcome != Outcome::ok && g.outcome != Outcome::clean_error) return g;
  }
  return {};
}

Result run_case_forked(const Case& c, const RunOptions& options) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("[fuzz] pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("[fuzz] fork failed");
  if (pid == 0) {
    ::close(fds[0]);
    ::alarm(static_cast<unsigned>(options.timeout_s));
    Result r = run_case(c, options);
    std::string msg = std::string(1, static_cast<char>(r.outcome)) + r.detail.substr(0, 400);
    ssize_t unused = ::write(fds[1], msg.data(), msg.size());
    (void)unused;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return {Outcome::crash, sig == SIGALRM ? fmt::format("timeout after {} s", options.timeout_s)
                                           : fmt::format("signal {} ({})", sig, strsignal(sig))};
  }
  if (msg.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return {Outcome::crash, fmt::format("child exited with status {}", WEXITSTATUS(status))};
  }
  return {static_cast<Outcome>(msg[0]), msg.substr(1)};
}

}  // namespace mfx::fuzz

// MatchFreeConfig's names (flags, checkpoint JSON), its one-line description
// and the validation of its scalar settings.
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "criteria/criteria_common.h"
#include "mfx/criteria/criteria.h"

namespace mfx::criteria {
namespace {

using Cfg = MatchFreeConfig;

// Shortest text that reads back as the same double (10, 0.5, 1e-06).
std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

template <typename E, size_t n>
E parse_enum(const std::string& name, const std::string& field, const E (&values)[n]) {
  std::string accepted;
  for (E v : values) {
    if (name == to_string(v)) return v;
    accepted += (accepted.empty() ? "'" : ", '") + std::string(to_string(v)) + "'";
  }
  throw std::invalid_argument("[MatchFreeConfig] " + field + " must be one of " + accepted +
                              ", got '" + name + "'");
}

}  // namespace

const char* to_string(Cfg::ProbeLogits v) {
  switch (v) {
    case Cfg::ProbeLogits::Scaled:
      return "scaled";
    case Cfg::ProbeLogits::Cosine:
      return "cosine";
  }
  return "?";
}

const char* to_string(Cfg::Attention v) {
  switch (v) {
    case Cfg::Attention::Softmax:
      return "softmax";
    case Cfg::Attention::Sinkhorn:
      return "sinkhorn";
  }
  return "?";
}

const char* to_string(Cfg::Selection v) {
  switch (v) {
    case Cfg::Selection::Threshold:
      return "threshold";
    case Cfg::Selection::Greedy:
      return "greedy";
  }
  return "?";
}

const char* to_string(Cfg::Norm v) {
  switch (v) {
    case Cfg::Norm::Sum:
      return "sum";
    case Cfg::Norm::Max:
      return "max";
    case Cfg::Norm::None:
      return "none";
  }
  return "?";
}

Cfg::ProbeLogits parse_probe_logits(const std::string& name, const std::string& field) {
  static constexpr Cfg::ProbeLogits all[] = {Cfg::ProbeLogits::Scaled, Cfg::ProbeLogits::Cosine};
  return parse_enum(name, field, all);
}

Cfg::Attention parse_attention(const std::string& name, const std::string& field) {
  static constexpr Cfg::Attention all[] = {Cfg::Attention::Softmax, Cfg::Attention::Sinkhorn};
  return parse_enum(name, field, all);
}

Cfg::Selection parse_selection(const std::string& name, const std::string& field) {
  static constexpr Cfg::Selection all[] = {Cfg::Selection::Threshold, Cfg::Selection::Greedy};
  return parse_enum(name, field, all);
}

Cfg::Norm parse_norm(const std::string& name, const std::string& field) {
  static constexpr Cfg::Norm all[] = {Cfg::Norm::Sum, Cfg::Norm::Max, Cfg::Norm::None};
  return parse_enum(name, field, all);
}

std::string matchfree_variant(const Cfg& cfg) {
  const bool paper = cfg.probe_logits == Cfg::ProbeLogits::Scaled &&
                     cfg.attention == Cfg::Attention::Softmax &&
                     cfg.selection == Cfg::Selection::Threshold;
  if (paper) return "paper (scaled logits, softmax, threshold rho=" + num(cfg.rho) + ")";
  std::string logits = cfg.probe_logits == Cfg::ProbeLogits::Cosine
                           ? "cosine(s=" + num(cfg.cosine_scale) + ")"
                           : std::string("scaled");
  std::string attention = cfg.attention == Cfg::Attention::Sinkhorn
                              ? "sinkhorn(T=" + std::to_string(cfg.sinkhorn_iters) + ")"
                              : std::string("softmax");
  std::string selection = cfg.selection == Cfg::Selection::Greedy
                              ? std::string("greedy")
                              : "threshold(rho=" + num(cfg.rho) + ")";
  return logits + " " + attention + " " + selection;
}

void validate_matchfree_config(const Cfg& cfg, const std::string& fn) {
  if (!(cfg.rho > 0.0 && cfg.rho <= 1.0)) {
    detail::fail(fn, "rho must be in (0, 1], got " + std::to_string(cfg.rho));
  }
  if (!(cfg.eps >= 0.0) || !(cfg.alpha_w >= 0.0) || !(cfg.beta_q >= 0.0)) {
    detail::fail(fn, "eps, alpha_w and beta_q must be >= 0, got " + std::to_string(cfg.eps) + ", " +
                         std::to_string(cfg.alpha_w) + ", " + std::to_string(cfg.beta_q));
  }
  if (!(cfg.cosine_scale > 0.0 && std::isfinite(cfg.cosine_scale))) {
    detail::fail(fn, "cosine_scale must be positive and finite, got " + num(cfg.cosine_scale));
  }
  if (cfg.sinkhorn_iters < 1) {
    detail::fail(fn, "sinkhorn_iters must be >= 1, got " + std::to_string(cfg.sinkhorn_iters));
  }
  // Enums cast from integers (e.g. read from a file) may hold other values.
  auto in_range = [&](const char* field, int value, int count) {
    if (value < 0 || value >= count) {
      detail::fail(fn,
                   std::string(field) + " holds no known variant (" + std::to_string(value) + ")");
    }
  };
  in_range("probe_logits", static_cast<int>(cfg.probe_logits), 2);
  in_range("attention", static_cast<int>(cfg.attention), 2);
  in_range("selection", static_cast<int>(cfg.selection), 2);
  in_range("norm", static_cast<int>(cfg.norm), 3);
}

}  // namespace mfx::criteria

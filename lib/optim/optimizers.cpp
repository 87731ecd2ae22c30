// AdamW and SGD as pure functions of (params, grads, state) Trees.
#include <fmt/format.h>

#include <cmath>

#include "mfx/ops.h"
#include "mfx/optimizers.h"
#include "optim/adamw_step.h"

namespace mfx::optim {

namespace {

void check_match(const Tree& params, const Tree& grads, const char* op) {
  if (!params.same_structure(grads)) {
    throw std::invalid_argument(fmt::format("[{}] gradients {} do not match parameters {}", op,
                                            grads.structure_str(), params.structure_str()));
  }
}

// The first group whose pattern occurs in the path, or none.
const ParamGroup* group_for(const std::string& path, const std::vector<ParamGroup>& groups) {
  for (auto& g : groups) {
    if (path.find(g.pattern) != std::string::npos) return &g;
  }
  return nullptr;
}

int64_t step_of(const Tree& state, const char* op) {
  if (!state.is_dict() || !state.contains("step")) {
    throw std::invalid_argument(fmt::format("[{}] state has no 'step': {}", op, state.structure_str()));
  }
  return state.at("step").item<int64_t>();
}

}  // namespace

Tree AdamW::init(const Tree& params) const {
  auto zeros_tree = params.map([](const array& p) { return zeros_like(p); });
  return Tree{{"step", array(int64_t{0})}, {"m", zeros_tree}, {"v", zeros_tree}};
}

std::pair<Tree, Tree> AdamW::update(const Tree& params, const Tree& grads, const Tree& state) const {
  check_match(params, grads, "AdamW");
  const int64_t step = step_of(state, "AdamW");
  const int64_t t = step + 1;
  const double base_lr = config_.lr(step);
  const double bc1 = 1.0 - std::pow(config_.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(config_.beta2, static_cast<double>(t));
  auto flat_p = params.flatten();
  auto g = grads.leaves();
  auto m = state["m"].leaves();
  auto v = state["v"].leaves();
  if (m.size() != flat_p.size() || v.size() != flat_p.size()) {
    throw std::invalid_argument("[AdamW] state does not match the parameters (re-run init)");
  }
  std::vector<array> new_p, new_m, new_v;
  for (size_t i = 0; i < flat_p.size(); ++i) {
    const auto& [path, p] = flat_p[i];
    const ParamGroup* grp = group_for(path, config_.groups);
    double lr = base_lr * (grp ? grp->lr_scale : 1.0);
    double wd = grp && grp->weight_decay ? *grp->weight_decay : config_.weight_decay;
    array gi = astype(g[i], p.dtype());
    const detail::AdamWScalars s{lr, wd, config_.beta1, config_.beta2, config_.eps, bc1, bc2};
    const std::vector<array> r = detail::adamw_fusable(p, gi, m[i], v[i])
                                     ? detail::adamw_fused(p, gi, m[i], v[i], s)
                                     : detail::adamw_composite(p, gi, m[i], v[i], s);
    new_p.push_back(r[0]);
    new_m.push_back(r[1]);
    new_v.push_back(r[2]);
  }
  Tree new_state{{"step", array(t)},
                 {"m", state["m"].unflatten(new_m)},
                 {"v", state["v"].unflatten(new_v)}};
  return {params.unflatten(new_p), new_state};
}

Tree SGD::init(const Tree& params) const {
  return Tree{{"step", array(int64_t{0})},
              {"momentum", params.map([](const array& p) { return zeros_like(p); })}};
}

std::pair<Tree, Tree> SGD::update(const Tree& params, const Tree& grads, const Tree& state) const {
  check_match(params, grads, "SGD");
  const int64_t step = step_of(state, "SGD");
  const double base_lr = config_.lr(step);
  auto flat_p = params.flatten();
  auto g = grads.leaves();
  auto buf = state["momentum"].leaves();
  if (buf.size() != flat_p.size()) {
    throw std::invalid_argument("[SGD] state does not match the parameters (re-run init)");
  }
  std::vector<array> new_p, new_buf;
  for (size_t i = 0; i < flat_p.size(); ++i) {
    const auto& [path, p] = flat_p[i];
    const ParamGroup* grp = group_for(path, config_.groups);
    double lr = base_lr * (grp ? grp->lr_scale : 1.0);
    double wd = grp && grp->weight_decay ? *grp->weight_decay : config_.weight_decay;
    array gi = astype(g[i], p.dtype());
    if (wd != 0.0) gi = gi + wd * p;
    array b = buf[i];
    if (config_.momentum != 0.0) {
      // torch.optim.SGD: the first step's buffer is the gradient itself.
      b = step == 0 ? gi : config_.momentum * buf[i] + gi;
      gi = config_.nesterov ? gi + config_.momentum * b : b;
    }
    new_p.push_back(p - lr * gi);
    new_buf.push_back(b);
  }
  Tree new_state{{"step", array(step + 1)}, {"momentum", state["momentum"].unflatten(new_buf)}};
  return {params.unflatten(new_p), new_state};
}

array global_norm(const Tree& tree) {
  auto leaves = tree.leaves();
  Dtype acc = float32;
  for (auto& l : leaves) {
    if (l.dtype() == float64) acc = float64;
  }
  array total = zeros({}, acc);
  for (auto& l : leaves) total = total + sum(square(astype(l, acc)));
  return sqrt(total);
}

std::pair<Tree, array> clip_by_global_norm(const Tree& grads, double max_norm) {
  if (!(max_norm > 0.0)) {
    throw std::invalid_argument(fmt::format("[clip_by_global_norm] max_norm must be > 0, got {}", max_norm));
  }
  array norm = global_norm(grads);
  array scale = minimum(array(1.0, norm.dtype()), max_norm / (norm + 1e-6));
  Tree clipped = grads.map([&](const array& g) { return g * astype(scale, g.dtype()); });
  return {clipped, norm};
}

}  // namespace mfx::optim

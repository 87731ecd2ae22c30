// Training losses on the full detector: forward + criterion, differentiable
// with respect to the parameter Tree.
#include <fmt/format.h>

#include <stdexcept>

#include "mfx/detr/detector.h"
#include "mfx/ops.h"
#include "mfx/random.h"

namespace mfx::detr {
namespace {

criteria::DecoderOutputs forward(const Tree& model, const Batch& batch, const LossConfig& cfg,
                                 const StepInputs& in) {
  std::optional<array> key;
  if (cfg.train) key = in.dropout_key ? *in.dropout_key : random::key(0);
  return detector_forward(model, batch.images, batch.mask, cfg.model, cfg.train, key);
}

const Tree& entry(const Tree& params, const char* name, const char* fn) {
  if (!params.is_dict() || !params.dict().count(name)) {
    throw std::invalid_argument(
        fmt::format("[{}] params must be a Tree with a \"{}\" entry, got {}", fn, name,
                    params.structure_str().substr(0, 200)));
  }
  return params[name];
}

// The criterion's loss plus, for a two-stage model, its proposals' loss
// (matching-free, so the match-free loss stays free of matching).
std::pair<array, Tree> with_total(criteria::LossResult r, const criteria::DecoderOutputs& out,
                                  const criteria::Targets& t) {
  if (out.encoder) {
    auto [enc, parts] = criteria::encoder_proposal_loss(*out.encoder, t);
    r.loss = r.loss + enc;
    for (auto& [name, leaf] : parts.flatten()) r.components[name] = Tree(leaf);
  }
  r.components["loss"] = r.loss;
  return {r.loss, r.components};
}

}  // namespace

std::pair<array, Tree> matchfree_step_loss_and_components(const Tree& params, const Batch& batch,
                                                          const LossConfig& cfg,
                                                          const StepInputs& in) {
  constexpr const char* fn = "matchfree_loss";
  const Tree& model = entry(params, "model", fn);
  const Tree& probe = entry(params, "probe", fn);
  const auto out = forward(model, batch, cfg, in);
  return with_total(
      criteria::matchfree_criterion(probe, out, batch.targets, cfg.matchfree, in.criterion), out,
      batch.targets);
}

std::pair<array, Tree> hungarian_step_loss_and_components(const Tree& params, const Batch& batch,
                                                          const LossConfig& cfg,
                                                          const StepInputs& in) {
  const bool nested = params.is_dict() && params.dict().count("model");
  const Tree& model = nested ? params["model"] : params;
  const auto out = forward(model, batch, cfg, in);
  return with_total(criteria::hungarian_criterion(out, batch.targets, cfg.hungarian, in.criterion),
                    out, batch.targets);
}

std::pair<array, Tree> matchfree_loss_and_components(const Tree& params, const Batch& batch,
                                                     const LossConfig& cfg) {
  return matchfree_step_loss_and_components(params, batch, cfg, {});
}

std::pair<array, Tree> hungarian_loss_and_components(const Tree& params, const Batch& batch,
                                                     const LossConfig& cfg) {
  return hungarian_step_loss_and_components(params, batch, cfg, {});
}

array matchfree_step_loss(const Tree& params, const Batch& batch, const LossConfig& cfg,
                          const StepInputs& in) {
  return matchfree_step_loss_and_components(params, batch, cfg, in).first;
}

array hungarian_step_loss(const Tree& params, const Batch& batch, const LossConfig& cfg,
                          const StepInputs& in) {
  return hungarian_step_loss_and_components(params, batch, cfg, in).first;
}

array matchfree_loss(const Tree& params, const Batch& batch, const LossConfig& cfg) {
  return matchfree_step_loss(params, batch, cfg, {});
}

array hungarian_loss(const Tree& params, const Batch& batch, const LossConfig& cfg) {
  return hungarian_step_loss(params, batch, cfg, {});
}

}  // namespace mfx::detr

// Training losses on the full detector: forward + criterion, differentiable
// with respect to the parameter Tree.
#include <fmt/format.h>

#include <stdexcept>

#include "mfx/detr/detector.h"
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

std::pair<array, Tree> with_total(criteria::LossResult r) {
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
  return with_total(criteria::matchfree_criterion(probe, forward(model, batch, cfg, in),
                                                  batch.targets, cfg.matchfree, in.criterion));
}

std::pair<array, Tree> hungarian_step_loss_and_components(const Tree& params, const Batch& batch,
                                                          const LossConfig& cfg,
                                                          const StepInputs& in) {
  const bool nested = params.is_dict() && params.dict().count("model");
  const Tree& model = nested ? params["model"] : params;
  return with_total(criteria::hungarian_criterion(forward(model, batch, cfg, in), batch.targets,
                                                  cfg.hungarian, in.criterion));
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

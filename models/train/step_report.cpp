#include "mfx/train/step_report.h"

#include <filesystem>

#include "mfx/criteria/criteria.h"
#include "mfx/criteria/criteria_trees.h"
#include "mfx/jit.h"
#include "mfx/transforms.h"

namespace mfx::train {

double write_step_fusion_report(const Tree& params, const detr::Batch& batch,
                                const detr::LossConfig& cfg, criteria::Criterion criterion,
                                const std::string& dir) {
#ifndef MFX_HAVE_JIT
  throw std::runtime_error(
      "[write_step_fusion_report] this build has no jit compiler (MLIR was not found)");
#else
  detr::LossConfig c = cfg;
  c.train = false;
  std::filesystem::create_directories(dir);
  if (criterion == criteria::Criterion::matchfree) {
    auto step = jit_tree(
        [c](const Tree& p, const array& images, const array& mask, const array& labels,
            const array& boxes, const array& valid) {
          detr::Batch b{images, mask, criteria::Targets{labels, boxes, valid}};
          auto [loss, grads] = value_and_grad(detr::matchfree_loss)(p, b, c);
          return std::make_pair(loss, grads);
        },
        JitOptions{.name = "train_step", .report_dir = dir});
    auto [loss, grads] = step(params, batch.images, batch.mask, batch.targets.labels,
                              batch.targets.boxes, batch.targets.mask);
    return loss.item<double>();
  }
  // The Hungarian step: the forward jitted, the matching on the host.
  const detr::DetectorConfig model = c.model;
  const int layers = model.detr.dec_layers;
  auto forward = jit_tree(
      [model](const Tree& m, const array& images, const array& mask) {
        return criteria::outputs_tree(detr::detector_forward(m, images, mask, model, false));
      },
      JitOptions{.name = "detector_forward", .report_dir = dir});
  const Tree& model_params =
      params.is_dict() && params.dict().count("model") ? params["model"] : params;
  auto loss_of = [&](const Tree& m) {
    criteria::DecoderOutputs o =
        criteria::outputs_from(forward(m, batch.images, batch.mask), layers);
    return criteria::hungarian_criterion(o, batch.targets, c.hungarian).loss;
  };
  auto [loss, grads] = value_and_grad(loss_of)(model_params);
  eval(grads.leaves());
  return loss.item<double>();
#endif
}

}  // namespace mfx::train

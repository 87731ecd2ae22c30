// train_step (see include/mfx/train/fit.h): the loss and gradients of one
// batch, summed over processes when data parallel, clipped, and the AdamW
// update.
#include <fmt/format.h>

#include <optional>
#include <stdexcept>
#include <string>

#include "device_moves.h"
#include "device_scope.h"
#include "jit_step.h"
#include "mfx/distributed.h"
#include "mfx/mfx.h"
#include "mfx/train/fit.h"
#include "mfx/train/train.h"

namespace mfx::train {

using detail::DefaultDeviceScope;

namespace {

std::vector<array> leaves_of(const Tree& a, const Tree& b) {
  auto l = a.leaves();
  auto m = b.leaves();
  l.insert(l.end(), m.begin(), m.end());
  return l;
}

// The logged scalars of a step: floating scalar components as they are, the
// per-(image, gt) selection counts as totals (their shape follows each
// process's padding, so only totals can be summed over processes).
Tree step_metrics(const Tree& components) {
  std::vector<std::pair<std::string, array>> items;
  for (auto& [path, leaf] : components.flatten()) {
    if (leaf.size() == 1 && is_floating(leaf.dtype())) {
      items.emplace_back(path, leaf);
    } else if (path.rfind("selected_per_gt_", 0) == 0) {
      items.emplace_back(path, sum(astype(leaf, float64)));
    }
  }
  return Tree::from_flat(items);
}

}  // namespace

StepResult train_step(Tree& params, Tree& opt_state, const optim::AdamW& opt,
                      const detr::Batch& batch, const StepConfig& config, int64_t step,
                      const detr::StepInputs& inputs) {
  const bool matchfree = config.criterion == criteria::Criterion::matchfree;
  const bool dp = config.data_parallel && distributed::is_distributed();
  // On GPU arrays, what the step creates (dropout masks, constants) goes there too.
  std::optional<DefaultDeviceScope> on_gpu;
  if (batch.images.on_gpu()) on_gpu.emplace(batch.images.device());
  detr::StepInputs in = inputs;
  StepResult r;
  r.images = batch.images.shape(0);
  const array local_gt = sum(astype(batch.targets.mask, float64));
  if (dp) {
    // Every process divides by the global count, so the local losses (and
    // gradients) add up to those of the global batch.
    auto counts =
        distributed::all_sum(stack({local_gt, array(static_cast<double>(r.images), float64)}))
            .to_vector<double>();
    r.num_gt = counts[0];
    r.images = static_cast<int64_t>(counts[1]);
    in.criterion.num_boxes = std::max(r.num_gt, 1.0);
    in.criterion.num_boxes_value.reset();
  } else {
    r.num_gt = local_gt.item<double>();
  }
  array loss;
  Tree components, grads;
  // The Hungarian matcher throws std::domain_error on NaN outputs: the run
  // diverged before a loss exists. Every process learns of it (a process
  // left waiting in the gradient sum would hang), then all stop.
  std::string diverged;
  try {
    if (config.jit) {
      // The per-step values are program inputs, so one compilation serves all.
      if (!in.dropout_key) in.dropout_key = random::key(0);
      if (!in.criterion.num_boxes_value) {
        in.criterion.num_boxes_value =
            array(in.criterion.num_boxes.value_or(std::max(r.num_gt, 1.0)), float64);
      }
      if (batch.images.on_gpu()) {
        // Program inputs live where the batch does (a CUDA graph copies them in).
        in.dropout_key = to_device(*in.dropout_key, batch.images.device());
        in.criterion.num_boxes_value =
            to_device(*in.criterion.num_boxes_value, batch.images.device());
      }
      auto j = detail::jit_loss_and_grads(params, batch, config.loss, config.criterion, in,
                                          config.cuda_graph);
      loss = j.loss;
      components = j.components;
      grads = j.grads;
    } else {
      if (batch.images.on_gpu() && in.dropout_key) {
        in.dropout_key = to_device(*in.dropout_key, batch.images.device());
      }
      auto loss_fn = matchfree ? detr::matchfree_step_loss_and_components
                               : detr::hungarian_step_loss_and_components;
      auto [value, g] = value_and_grad(loss_fn)(params, batch, config.loss, in);
      loss = value.first;
      components = value.second;
      grads = g;
    }
  } catch (const std::domain_error& e) {
    diverged = e.what();
  }
  const bool any_diverged =
      dp ? distributed::all_sum(array(diverged.empty() ? 0 : 1, int32)).item<int64_t>() > 0
         : !diverged.empty();
  if (any_diverged) {
    throw NonFiniteError(step, {"outputs"},
                         fmt::format("[train_step] step {}: {}", step,
                                     diverged.empty()
                                         ? "another process's model outputs are not finite"
                                         : diverged));
  }
  Tree metrics = step_metrics(components);
  if (dp) {
    // One packed transfer per dtype; sums, not means (see fit.h).
    Tree total =
        distributed::all_sum(Tree{{"grads", grads}, {"loss", Tree(loss)}, {"metrics", metrics}});
    grads = total["grads"];
    loss = total["loss"].leaf();
    metrics = total["metrics"];
  }
  // The components join the loss, so a divergence names the terms that went first.
  check_finite(Tree{{"loss", loss}, {"components", metrics}}, grads, step);
  auto [clipped, norm] = optim::clip_by_global_norm(grads, config.clip_max_norm);
  std::tie(params, opt_state) = opt.update(params, clipped, opt_state);
  eval(leaves_of(params, opt_state));
  r.loss = loss;
  r.components = metrics;
  r.grads = grads;
  r.grad_norm = norm;
  return r;
}

}  // namespace mfx::train

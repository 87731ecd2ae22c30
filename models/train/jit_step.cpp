// Jitted loss and gradients of the training step (see jit_step.h).
#include "jit_step.h"

#include <any>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <stdexcept>

#include "mfx/criteria/criteria_trees.h"
#include "mfx/jit.h"
#include "mfx/train/loss_config_json.h"
#include "mfx/transforms.h"

namespace mfx::train::detail {

#ifdef MFX_HAVE_JIT
namespace {

// One compiled function per configuration, for the life of the process.
template <typename F>
F& cached(const std::string& key, const std::function<F()>& make) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<std::any>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[key];
  if (!slot) slot = std::make_shared<std::any>(make());
  return std::any_cast<F&>(*slot);
}

JitLossGrads matchfree(const Tree& params, const detr::Batch& batch, const detr::LossConfig& cfg,
                       const array& key, const array& nb, bool cuda_graph) {
  auto make = [&] {
    return jit_tree(
        [cfg](const Tree& p, const array& images, const array& mask, const array& labels,
              const array& boxes, const array& valid, const array& dropout_key,
              const array& num_boxes) {
          const detr::StepInputs in{.dropout_key = dropout_key,
                                    .criterion = {.num_boxes_value = num_boxes}};
          detr::Batch b{images, mask, criteria::Targets{labels, boxes, valid}};
          auto [value, grads] =
              value_and_grad(detr::matchfree_step_loss_and_components)(p, b, cfg, in);
          return std::make_tuple(value.first, value.second, grads);
        },
        JitOptions{.name = "matchfree_train_step", .cuda_graph = cuda_graph});
  };
  using Fn = decltype(make());
  Fn& step = cached<Fn>(jit_step_cache_key(cfg, criteria::Criterion::matchfree, cuda_graph), make);
  auto [loss, components, grads] = step(params, batch.images, batch.mask, batch.targets.labels,
                                        batch.targets.boxes, batch.targets.mask, key, nb);
  return {loss, components, grads};
}

// The detector's forward over flat leaves (the model's, then images, mask
// and dropout key), with the structure of its outputs.
struct FlatForward {
  JitFunction fn;
  std::shared_ptr<std::optional<Tree>> outputs_like;
};

JitLossGrads hungarian(const Tree& params, const detr::Batch& batch, const detr::LossConfig& cfg,
                       const array& key, const criteria::StepInputs& in, bool cuda_graph) {
  const detr::DetectorConfig model = cfg.model;
  const bool train = cfg.train;
  const int layers = model.detr.dec_layers;
  const bool nested = params.is_dict() && params.dict().count("model");
  const Tree& m = nested ? params["model"] : params;
  const size_t nm = m.leaves().size();
  // The matching runs on the host, so the criterion runs eagerly on the
  // jitted forward's outputs. Its gradient goes back through the forward's
  // pullback (JitFunction::vjp), which starts from what the forward saved:
  // grad of the jitted forward would run the forward again in its backward.
  auto make = [&] {
    auto outputs_like = std::make_shared<std::optional<Tree>>();
    // The model's structure only: its arrays would stay alive with the cache.
    const Tree m_like = m.map([](const array&) { return array(0.0f); });
    ArrayFn f = [=](const std::vector<array>& a) {
      const Tree mt = m_like.unflatten(std::vector<array>(a.begin(), a.begin() + nm));
      Tree o = criteria::outputs_tree(detr::detector_forward(
          mt, a[nm], a[nm + 1], model, train,
          train ? std::optional<array>(a[nm + 2]) : std::nullopt));
      *outputs_like = o;
      return o.leaves();
    };
    return FlatForward{jit(f, JitOptions{.name = "detector_train_forward", .cuda_graph = cuda_graph}),
                       outputs_like};
  };
  FlatForward& forward = cached<FlatForward>(
      jit_step_cache_key(cfg, criteria::Criterion::hungarian, cuda_graph), make);
  std::vector<array> args = m.leaves();
  args.insert(args.end(), {batch.images, batch.mask, key});
  // Only the model's leaves: the images' cotangent (a transposed stem
  // convolution) would cost as much as the rest of the backward.
  std::vector<int> model_args(nm);
  std::iota(model_args.begin(), model_args.end(), 0);
  JitVjp fwd = forward.fn.vjp(args, model_args);
  const Tree outputs = forward.outputs_like->value().unflatten(fwd.outputs);
  auto loss_of = [&](const Tree& o) {
    criteria::LossResult r =
        criteria::hungarian_criterion(criteria::outputs_from(o, layers), batch.targets,
                                      cfg.hungarian, in);
    r.components["loss"] = r.loss;
    return std::make_pair(r.loss, r.components);
  };
  auto [value, g_outputs] = value_and_grad(loss_of)(outputs);
  std::vector<array> g = fwd.pullback(g_outputs.leaves());
  Tree gm = m.unflatten(std::vector<array>(g.begin(), g.begin() + nm));
  Tree grads = gm;
  if (nested) {
    // The other entries of params do not enter the loss.
    Tree::Dict d;
    for (const auto& [k, sub] : params.dict()) {
      d.emplace(k, k == "model" ? gm : sub.map([](const array& a) { return zeros_like(a); }));
    }
    grads = Tree(std::move(d));
  }
  return {value.first, value.second, grads};
}

}  // namespace

JitLossGrads jit_loss_and_grads(const Tree& params, const detr::Batch& batch,
                                const detr::LossConfig& cfg, criteria::Criterion criterion,
                                const detr::StepInputs& in, bool cuda_graph) {
  if (in.criterion.fixed_assignment) {
    throw std::invalid_argument(
        "[train_step] jit: a fixed assignment changes every step; run the step eagerly");
  }
  if (!in.dropout_key || !in.criterion.num_boxes_value) {
    throw std::invalid_argument(
        "[train_step] jit: the dropout key and num_boxes_value are program inputs and must be set");
  }
  if (criterion == criteria::Criterion::matchfree) {
    return matchfree(params, batch, cfg, *in.dropout_key, *in.criterion.num_boxes_value,
                     cuda_graph);
  }
  return hungarian(params, batch, cfg, *in.dropout_key, in.criterion, cuda_graph);
}
#else
JitLossGrads jit_loss_and_grads(const Tree&, const detr::Batch&, const detr::LossConfig&,
                                criteria::Criterion, const detr::StepInputs&, bool) {
  throw std::runtime_error("[train_step] jit: this build has no jit compiler (MLIR was not found)");
}
#endif

}  // namespace mfx::train::detail

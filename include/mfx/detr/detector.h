// The complete Deformable DETR detector: ResNet backbone (C3-C5) followed by
// the Deformable DETR transformer and heads, as pure functions of one
// parameter Tree, plus the training losses users call with mfx::grad.
//
// Parameter paths equal the reference implementation's state_dict
// (fundamentalvision/Deformable-DETR): the backbone lives under
// "backbone.0.body." with torchvision names ("backbone.0.body.layer2.0.conv1.
// weight"), the transformer, input projections and query embedding under the
// names of include/mfx/detr/deformable_detr.h. The only difference is that
// the class and box heads, shared by the decoder layers (no box refinement),
// are stored once ("class_embed.weight", "bbox_embed.layers.2.bias") where
// the reference repeats them per layer ("class_embed.3.weight");
// load_reference_checkpoint / save_reference_checkpoint translate.
//
// Errors are std::invalid_argument whose message starts with "[function]".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mfx/array.h"
#include "mfx/criteria/criteria.h"
#include "mfx/detr/deformable_detr.h"
#include "mfx/optimizers.h"
#include "mfx/resnet/resnet.h"
#include "mfx/tree.h"

namespace mfx::detr {

/// Prefix of every backbone parameter in the detector's Tree.
inline constexpr const char* detector_backbone_prefix = "backbone.0.body.";

struct DetectorConfig {
  resnet::ResNetConfig backbone;
  DeformableDetrConfig detr;

  /// The reference: ResNet-50 (frozen BN, stem and layer1), 4 feature
  /// levels, 300 queries, 91 classes, d_model 256, 6 + 6 layers.
  static DetectorConfig coco_r50();
  /// A detector that trains on a CPU at ~256 px: ResNet-18 with widths
  /// halved (C3-C5 channels 64/128/256), DeformableDetrConfig::small()
  /// (d_model 64, 2 + 2 layers, 100 queries, 3 levels) and `num_classes`.
  static DetectorConfig small_cpu(int64_t num_classes = 4);

  /// Throws std::invalid_argument ("[DetectorConfig] ...") when either part
  /// is invalid or detr.backbone_channels differ from the backbone's C3-C5
  /// channels.
  void validate() const;
};

/// The configuration as the text of a JSON object {"backbone": {depth
/// ("r18" | "r34" | "r50"), train_stem_and_layer1, dilation_c5,
/// width_divisor}, "detr": {every DeformableDetrConfig field by its name}},
/// e.g. for checkpoint metadata, so a model can be rebuilt from its file.
std::string detector_config_to_json(const DetectorConfig& cfg);

/// The inverse of detector_config_to_json (equal fields, doubles exact).
/// Strict: a missing, mistyped or unknown field is an error naming it, and
/// the result must pass validate(). Throws std::invalid_argument starting
/// with "[detector_config_from_json]".
DetectorConfig detector_config_from_json(const std::string& text);

/// Random parameters: init_resnet under "backbone.0.body." (torchvision
/// init, key fold_in(key, 0)) and init_deformable_detr for the rest (key
/// fold_in(key, 1)), every leaf cast to the floating `dtype`. Arrays are
/// lazy (nothing is computed until evaluated).
Tree init_detector(const array& key, const DetectorConfig& cfg, Dtype dtype = float32);

/// The backbone's subtree (paths relative to "backbone.0.body."); throws
/// ("[detector]") naming the missing path when params has none.
const Tree& detector_backbone_params(const Tree& params);

/// The forward pass: images [B, 3, H, W] floating (normalised), mask
/// [B, H, W] bool (true = padding) -> resnet_forward's C3-C5 ->
/// deformable_detr_forward, computing in the parameters' dtype. Returns every
/// decoder layer's logits [B, Q, K], boxes [B, Q, 4] and hidden states.
/// `train` enables dropout and then needs `key`. Frozen backbone parameters
/// receive zero gradients. Throws naming the shapes when images and mask do
/// not agree.
criteria::DecoderOutputs detector_forward(const Tree& params, const array& images,
                                          const array& mask, const DetectorConfig& cfg,
                                          bool train = false,
                                          const std::optional<array>& key = std::nullopt);

/// Whether the leaf at `path` (relative to the detector's root) is trained:
/// backbone leaves follow resnet_is_trainable, all others are.
bool detector_is_trainable(const std::string& path, const DetectorConfig& cfg);

/// A Tree shaped like `params` holding a bool scalar per leaf
/// (detector_is_trainable of its path).
Tree detector_trainable_mask(const Tree& params, const DetectorConfig& cfg);

/// Element counts of a detector's leaves, in PyTorch's sense.
struct DetectorParamCount {
  int64_t total = 0;      ///< parameters (BN running statistics excluded)
  int64_t trainable = 0;  ///< parameters with detector_is_trainable
  int64_t buffers = 0;    ///< BN running_mean / running_var elements
};
/// For coco_r50 the trainable count is the reference's 39,847,265.
DetectorParamCount detector_count_parameters(const Tree& params, const DetectorConfig& cfg);

/// AdamW parameter groups of the reference, for leaves whose paths are the
/// detector's paths preceded by `prefix` (e.g. "model." for the match-free
/// loss's {"model", "probe"} Tree), in priority order:
///  1. every frozen backbone leaf by its full path: lr_scale 0 and weight
///     decay 0, so the optimiser leaves it bit-for-bit unchanged;
///  2. prefix + "backbone.0.body.": lr_scale `backbone_scale` (the
///     reference's 2e-5 / 2e-4 = 0.1; a backbone trained from scratch wants 1);
///  3. "sampling_offsets" and "reference_points": lr_scale `slow_scale` (0.1).
/// Other leaves (transformer, heads, probe) use the base rate.
std::vector<optim::ParamGroup> detector_param_groups(const DetectorConfig& cfg,
                                                     const std::string& prefix = "",
                                                     double slow_scale = 0.1,
                                                     double backbone_scale = 0.1);

/// The reference optimiser: AdamW with lr `lr` (2e-4), weight decay 1e-4 and
/// detector_param_groups(cfg, prefix, 0.1, backbone_scale).
optim::AdamWConfig detector_adamw_config(const DetectorConfig& cfg, const std::string& prefix = "",
                                         double lr = 2e-4, double weight_decay = 1e-4,
                                         double backbone_scale = 0.1);

/// Loads a reference Deformable DETR checkpoint (safetensors, PyTorch names,
/// e.g. the "model" state_dict of r50_deformable_detr-checkpoint.pth) into
/// the detector's Tree, converted to float32. Mapping: "class_embed.{i}.*"
/// and "bbox_embed.{i}.layers.{k}.*" (one copy per decoder layer, all equal
/// without box refinement) become "class_embed.*" / "bbox_embed.layers.{k}.*"
/// from copy 0 after checking the others are equal (a differing copy is an
/// error: box refinement checkpoints are not supported; a missing copy is
/// reported as missing); un-indexed head names are accepted too. "*.num_batches_tracked" is
/// ignored. Throws std::invalid_argument naming the file and listing the missing, unexpected and
/// mis-shaped (or non-floating) tensors; I/O and format errors as load_safetensors.
Tree load_reference_checkpoint(const std::string& path, const DetectorConfig& cfg);

/// The inverse: writes params (a detector Tree of cfg) under the reference's
/// names, the heads repeated once per decoder layer. Throws like
/// load_reference_checkpoint when params does not match cfg.
void save_reference_checkpoint(const std::string& path, const Tree& params,
                               const DetectorConfig& cfg);

}  // namespace mfx::detr

namespace mfx::detr {

/// A training batch: images [B, 3, H, W] float, mask [B, H, W] bool (true =
/// padding) and targets padded to a bucket (pad_targets).
struct Batch {
  array images, mask;
  criteria::Targets targets;
};

/// The settings of a training loss: pure values that serialise to JSON
/// (train::loss_config_to_json) and key the jitted step's compile cache.
/// What changes per step comes in StepInputs.
struct LossConfig {
  DetectorConfig model;
  criteria::MatchFreeConfig matchfree;
  criteria::HungarianConfig hungarian;
  /// Dropout on (the reference trains with dropout 0.1).
  bool train = true;
};

/// The per-step inputs of a loss, beside its LossConfig: a jitted step takes
/// them as program inputs, so one compilation serves every step.
struct StepInputs {
  /// The dropout key (used when LossConfig::train); vary it per step.
  /// Default: random::key(0).
  std::optional<array> dropout_key;
  /// The criterion's per-step inputs (ground-truth count, fixed assignment).
  criteria::StepInputs criterion;
};

/// detector_forward + matchfree_criterion. params = Tree{"model": detector
/// parameters, "probe": init_probe(key, K, d_model)}. The scalar loss;
/// mfx::grad(detr::matchfree_loss)(params, batch, cfg) is the training
/// gradient for both parts (zero on frozen backbone leaves). Uses default
/// StepInputs (matchfree_step_loss takes them).
array matchfree_loss(const Tree& params, const Batch& batch, const LossConfig& cfg);

/// detector_forward + hungarian_criterion. params is the detector Tree, or a
/// Tree with a "model" entry holding it (other entries, such as a probe,
/// are ignored and get zero gradients). Uses default StepInputs.
array hungarian_loss(const Tree& params, const Batch& batch, const LossConfig& cfg);

/// The losses with this step's inputs (dropout key, ground-truth count,
/// fixed assignment). Separate names, not overloads, so that
/// mfx::grad(detr::matchfree_loss) still names one function:
/// mfx::grad(detr::matchfree_step_loss)(params, batch, cfg, in).
array matchfree_step_loss(const Tree& params, const Batch& batch, const LossConfig& cfg,
                          const StepInputs& in);
array hungarian_step_loss(const Tree& params, const Batch& batch, const LossConfig& cfg,
                          const StepInputs& in);

/// The same losses with their components for logging (the criteria's
/// components plus "loss"), as a (loss, components) pair so value_and_grad
/// treats the components as aux: auto [value, g] =
/// mfx::value_and_grad(detr::matchfree_loss_and_components)(params, batch, cfg).
std::pair<array, Tree> matchfree_loss_and_components(const Tree& params, const Batch& batch,
                                                     const LossConfig& cfg);
std::pair<array, Tree> hungarian_loss_and_components(const Tree& params, const Batch& batch,
                                                     const LossConfig& cfg);
/// ... and with this step's inputs.
std::pair<array, Tree> matchfree_step_loss_and_components(const Tree& params, const Batch& batch,
                                                          const LossConfig& cfg,
                                                          const StepInputs& in);
std::pair<array, Tree> hungarian_step_loss_and_components(const Tree& params, const Batch& batch,
                                                          const LossConfig& cfg,
                                                          const StepInputs& in);

}  // namespace mfx::detr

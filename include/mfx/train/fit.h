// Training a detector end to end: data from a COCO-format folder, the
// Hungarian or match-free criterion, AdamW with the reference parameter
// groups, gradient clipping, a step learning-rate drop, evaluation with
// COCOeval every epoch, atomic checkpoints with identical continuation on
// resume, a NaN/inf guard that stops and keeps the last good checkpoint,
// metrics (JSONL/CSV), PNG plots and a progress line.
//
// Data parallel: after distributed::init() under `mpirun -np N`, fit() trains
// on N processes. Each takes its slice of every global batch of batch_size *
// N images (coco::LoaderConfig::rank), losses are normalised by the global
// ground-truth count and gradients summed over processes, so one step equals
// the single-process step on the whole global batch (up to rounding, and up
// to image padding: each process pads its slice to its own largest image).
// Rank 0 alone prints, evaluates and writes files.
#pragma once

#include <array>
#include <functional>
#include <string>

#include "mfx/coco/data.h"
#include "mfx/criteria/collapse_metrics.h"
#include "mfx/criteria/criterion.h"
#include "mfx/detr/detector.h"
#include "mfx/device.h"
#include "mfx/optimizers.h"
#include "mfx/train/checkpoint_info.h"

namespace mfx::train {

struct FitConfig {
  /// COCO-format folder: images/ + annotations/instances_{train,val}.json
  /// (the synthetic set's layout) or COCO's train2017/, val2017/ +
  /// annotations/instances_{train,val}2017.json.
  std::string data_dir;
  /// Checkpoints, metrics.jsonl/.csv, loss.png, ap.png, eval_*.json go here.
  std::string out_dir;
  /// The training criterion ("matchfree" / "hungarian" in args.json).
  criteria::Criterion criterion = criteria::Criterion::matchfree;
  /// Settings of the match-free criterion (rho, alpha_w, beta_q, norm, ...;
  /// docs/design.md §6.3 defaults).
  criteria::MatchFreeConfig matchfree;
  detr::DetectorConfig model = detr::DetectorConfig::small_cpu();
  coco::TransformConfig train_transforms;
  coco::TransformConfig val_transforms;
  int epochs = 10;
  /// Images per step and process (the global batch is batch_size * processes).
  int batch_size = 4;
  int num_workers = 2;
  double lr = 2e-4;
  double weight_decay = 1e-4;
  double clip_max_norm = 0.1;
  /// Learning-rate multiplier of the backbone: the reference's 0.1 for a
  /// pretrained backbone; 1 for one trained from scratch.
  double backbone_lr_scale = 0.1;
  /// Epoch after which the learning rate is multiplied by 0.1 (-1: never).
  int lr_drop_epoch = -1;
  uint64_t seed = 0;
  /// Continue from out_dir/last.safetensors; without one that is an error
  /// (std::invalid_argument naming the folder) unless resume_or_start.
  bool resume = false;
  /// With resume: start a new run when out_dir holds no checkpoint.
  bool resume_or_start = false;
  /// Besides last.safetensors (every epoch) and best.safetensors (the best
  /// validation AP so far), keep epoch<N>.safetensors every this many
  /// epochs (0: never).
  int save_every = 0;
  /// Start the detector from the model weights of this checkpoint (a
  /// train_coco output; the model configuration must match), with a new
  /// probe, optimiser and schedule: fine-tuning, e.g. the match-free
  /// criterion from a Hungarian-trained model. Ignored when resuming.
  std::string init_from;
  /// Stop an epoch after this many steps (tests; -1: the whole epoch).
  int max_steps_per_epoch = -1;
  /// Evaluate on the validation split every this many epochs (0: never).
  int eval_every = 1;
  /// Before the first step of a new run, write the fusion report of the
  /// jitted training step to out_dir/fusion_report (train/step_report.h;
  /// a few seconds of compilation; training itself runs eagerly).
  bool fusion_report = false;
  /// Progress lines (stderr by default).
  bool progress = true;
  /// Train through jit (StepConfig::jit).
  bool jit = false;
  /// Match-free only: for the first this many steps beta_q = 0, so only
  /// L_w trains the probe and the detector gets no gradient. A fresh probe's
  /// attention is nearly uniform, which selects every query for every
  /// ground truth (all queries pulled to every object, no negatives for the
  /// image's classes) until the probe has learnt to point at low-cost
  /// queries; the warm-up skips that phase. 0: off (docs/design.md §6.3 as is).
  int64_t probe_warmup_steps = 0;
  /// Where training runs. With a GPU, it becomes the default device for the
  /// run (ops run there), parameters, optimiser state and every batch are
  /// copied to it, evaluation runs there, and checkpoints are written from
  /// host copies (so they load anywhere). Under mpirun, give each process
  /// its own GPU.
  Device device = Device::cpu();
  /// Pad batch heights and widths to a multiple of this (coco::collate):
  /// fewer distinct shapes, so fewer compilations of a jitted step.
  int pad_multiple = 1;
  /// Match-free only (an extension beyond the paper, for diagnosis): with
  /// every evaluation, the collapse metrics (probe_collapse_metrics) on the
  /// first this many validation images join the evaluation's row of
  /// metrics.jsonl as "collapse_*", with the variant as "matchfree_variant".
  /// 0: off.
  int collapse_images = 32;
};

struct FitResult {
  int64_t epochs_done = 0;
  int64_t steps = 0;
  double last_loss = 0;
  std::array<double, 12> last_stats{};  ///< COCOeval summary of the last evaluation
  bool stopped_non_finite = false;      ///< the guard stopped training
  bool resumed = false;                 ///< continued from a checkpoint
  double best_ap = -1;                  ///< best validation AP (fraction; -1: none yet)
  int64_t best_epoch = 0;               ///< its epoch (1-based), saved as best.safetensors
};

/// Checks every field of a fit configuration without touching data or
/// files (fit calls it first; tools call it before they prepare data).
/// Throws std::invalid_argument naming the field and its value.
void check_fit_config(const FitConfig& config);

/// The whole configuration as JSON (paths, schedule, model, transforms,
/// criterion settings): what fit writes to out_dir/args.json.
std::string fit_config_json(const FitConfig& config);

/// How train_step computes one step.
struct StepConfig {
  /// matchfree (params {"model", "probe"}) or hungarian.
  criteria::Criterion criterion = criteria::Criterion::matchfree;
  /// The loss settings (per-step values come in train_step's StepInputs).
  detr::LossConfig loss;
  double clip_max_norm = 0.1;
  /// Sum over the processes of mfx::distributed (when there are several);
  /// false: this process alone, as in a world of one.
  bool data_parallel = true;
  /// Compute the loss and gradients through jit: one compiled program for
  /// the match-free step; for the Hungarian criterion the mixed schedule (the
  /// detector's forward and its derivative compiled, the matching on the
  /// host between them). Compiled once per batch shape (see
  /// FitConfig::pad_multiple) and configuration; the dropout key and the
  /// ground-truth count are program inputs. Same results as eager up to
  /// float rounding.
  bool jit = false;
  /// With jit, on GPU arrays: replay the compiled programs as CUDA graphs.
  bool cuda_graph = false;
};

/// What one step produced, every value global (summed over the processes).
struct StepResult {
  array loss;          ///< scalar: the loss of the whole global batch
  Tree components;     ///< the scalar floating loss components, plus
                       ///< "selected_per_gt_i" as a float64 total count
  Tree grads;          ///< gradients of the loss, before clipping
  array grad_norm;     ///< their global norm
  double num_gt = 0;   ///< real ground truths in the global batch
  int64_t images = 0;  ///< images in the global batch
};

/// One optimisation step of fit: the loss of `batch` (this process's slice of
/// the global batch) and its gradients, then gradient clipping and the AdamW
/// update of params and opt_state in place. Data parallel, the loss is
/// normalised by the global ground-truth count (an all_sum of the local
/// counts, as Deformable DETR's num_boxes) and the gradients are summed over
/// processes (not averaged: each local loss already divides by the global
/// count), so every process applies the single-process update of the global
/// batch and the replicas stay equal. Throws NonFiniteError (decided on the
/// global values: every process throws) before updating anything when the
/// loss or a gradient is not finite. With the batch on a GPU (params and
/// state there too), the GPU is the default device during the step.
/// `inputs` are this step's dropout key (vary it per step; default
/// random::key(0)) and criterion inputs; data parallel, train_step sets
/// their num_boxes to the global count.
StepResult train_step(Tree& params, Tree& opt_state, const optim::AdamW& opt,
                      const detr::Batch& batch, const StepConfig& config, int64_t step,
                      const detr::StepInputs& inputs = {});

/// Trains as configured; out_dir/args.json records the configuration
/// (fit_config_json). With progress on, a progress line during each
/// epoch (smoothed loss, learning rate, ETA with the evaluations) and after
/// each evaluation a results line on stdout:
///   epoch 7/30 | loss 6.91 (mean) | lr 1.0e-03 | AP 5.2 AP50 10.9 AP75 4.8 |
///   best AP 5.5 @ 6 | 31 s train + 3 s eval
/// (COCO numbers in percent). metrics.jsonl rows carry 1-based epochs and
/// the learning rate. Throws std::invalid_argument naming the field for a
/// bad configuration (check_fit_config) or a resume without a checkpoint,
/// and std::runtime_error naming the path for data errors.
FitResult fit(const FitConfig& config);

/// Collapse metrics of a match-free model (criteria/collapse_metrics.h) on the
/// first `max_images` images of `data` (validation transforms, so its
/// ground truths are at hand), in batches of `batch_size` copied to
/// `device`: the detector's last decoder layer without dropout, and the
/// probe's attention A as `matchfree` computes it (its variant's logits and
/// attention). params = {"model", "probe"}. Throws std::invalid_argument
/// for batch_size < 1 or max_images < 0.
criteria::CollapseMetrics probe_collapse_metrics(const Tree& params,
                                                 const detr::DetectorConfig& model,
                                                 const criteria::MatchFreeConfig& matchfree,
                                                 const coco::DetectionDataset& data, int batch_size,
                                                 int64_t max_images, Device device = Device::cpu());

/// COCOeval of `params` (a detector Tree) on a dataset (its validation
/// transforms apply), in batches copied to `device` (where params live);
/// with `results_json`, the detections are also saved there.
std::array<double, 12> evaluate_detector(const Tree& params, const detr::DetectorConfig& model,
                                         const coco::DetectionDataset& data, int batch_size,
                                         const std::string& results_json = "",
                                         Device device = Device::cpu());

}  // namespace mfx::train

// Evaluates a detector checkpoint written by train_coco with COCOeval
// (`eval_coco --help` lists the flags).
//
// The model configuration, validation resize and category mapping come from
// the checkpoint's metadata; DIR is a COCO-format folder (synthetic layout or
// COCO 2017's). Prints pycocotools' 12 summary lines and the same numbers as
// a Markdown table; --results writes the detections as COCO results JSON.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "flags.h"
#include "mfx/cpu.h"
#include "mfx/coco/eval.h"
#include "mfx/gpu.h"
#include "mfx/train/checkpoint_info.h"
#include "mfx/train/fit.h"

using namespace mfx;

int main(int argc, char** argv) {
  mfx::cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string checkpoint, data, split = "val", results, device_spec = "cpu";
  int batch_size = 4;
  examples::Flags flags("eval_coco",
                        "Evaluates a train_coco checkpoint with COCOeval: pycocotools' 12 summary\n"
                        "lines and the same numbers (in percent) as a Markdown table.");
  flags.text("--checkpoint", "FILE", checkpoint, "a train_coco checkpoint (required)");
  flags.text("--data", "DIR", data,
             "COCO-format folder: the synthetic layout or COCO 2017's (required)");
  flags.text("--split", "NAME", split, "split to evaluate");
  flags.number("--batch-size", "N", batch_size, "images per forward pass", 1);
  flags.text("--results", "OUT.json", results, "also write the detections as COCO results JSON");
  flags.text("--device", "cpu|gpu|gpu:N", device_spec, "where the detector runs");
  flags.parse(argc, argv);
  if (checkpoint.empty()) flags.fail("--checkpoint is required");
  if (data.empty()) flags.fail("--data is required");
  Device device = Device::cpu();
  try {
    device = Device::parse(device_spec);
  } catch (const std::exception& e) {
    flags.fail(std::string("--device: ") + e.what());
  }
  try {
    auto det = train::load_trained_detector(checkpoint);
    auto paths = coco::find_split(data, split);
    auto dataset = coco::DetectionDataset::load(paths.images, paths.annotations,
                                                det.info.val_transforms(), coco::OnCorrupt::skip);
    // Labels mean the checkpoint's categories; another category set would
    // silently score the wrong classes.
    if (dataset.category_ids() != det.info.category_ids) {
      throw std::runtime_error(fmt::format(
          "{} has categories [{}] but the checkpoint was trained on [{}]", paths.annotations,
          fmt::join(dataset.category_ids(), ", "), fmt::join(det.info.category_ids, ", ")));
    }
    fmt::print(
        "evaluating {} (epoch {}, {} criterion) on {} images of {} (short side {}, max {})\n",
        checkpoint, det.epoch, criteria::to_string(det.info.criterion), dataset.size(),
        paths.annotations, det.info.val_size, det.info.max_size);
    auto t0 = std::chrono::steady_clock::now();
    if (device.type == Device::Type::gpu) set_default_device(device);
    const Tree params = det.params.map([&](const array& x) { return to_device(x, device); });
    auto stats =
        train::evaluate_detector(params, det.info.model, dataset, batch_size, results, device);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("{}\n{}", coco::format_summary(stats, coco::EvalParams::coco()),
               coco::format_summary_table(stats));
    fmt::print("{:.1f} s ({:.1f} images/s)", seconds,
               seconds > 0 ? static_cast<double>(dataset.size()) / seconds : 0.0);
    if (!results.empty()) fmt::print("; detections written to {}", results);
    fmt::print("\n");
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "eval_coco: {}\n", e.what());
    return 1;
  }
}

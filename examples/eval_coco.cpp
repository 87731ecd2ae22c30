// Evaluates a detector checkpoint written by train_coco with COCOeval.
//
//   eval_coco --checkpoint FILE --data DIR [--split val] [--batch-size N] [--results OUT.json]
//             [--device cpu|gpu|gpu:N]
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

#include "mfx/coco/eval.h"
#include "mfx/gpu.h"
#include "mfx/train/checkpoint_info.h"
#include "mfx/train/fit.h"

using namespace mfx;

namespace {

[[noreturn]] void usage(const std::string& error) {
  fmt::print(stderr,
             "{}\nusage: eval_coco --checkpoint FILE --data DIR [--split val] [--batch-size N] "
             "[--results OUT.json] [--device cpu|gpu|gpu:N]\n",
             error);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string checkpoint, data, split = "val", results;
  Device device = Device::cpu();
  int batch_size = 4;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--checkpoint") {
      checkpoint = value();
    } else if (a == "--data") {
      data = value();
    } else if (a == "--split") {
      split = value();
    } else if (a == "--results") {
      results = value();
    } else if (a == "--device") {
      try {
        device = Device::parse(value());
      } catch (const std::exception& e) {
        usage(std::string("--device: ") + e.what());
      }
    } else if (a == "--batch-size") {
      std::string v = value();
      try {
        size_t used = 0;
        batch_size = std::stoi(v, &used);
        if (used != v.size()) batch_size = 0;
      } catch (const std::logic_error&) {
        batch_size = 0;
      }
      if (batch_size < 1) usage("--batch-size must be a positive integer, got '" + v + "'");
    } else {
      usage("unknown option " + a);
    }
  }
  if (checkpoint.empty()) usage("--checkpoint is required");
  if (data.empty()) usage("--data is required");
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
        checkpoint, det.epoch, det.info.criterion, dataset.size(), paths.annotations,
        det.info.val_size, det.info.max_size);
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

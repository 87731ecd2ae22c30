// Times every convolution of the small_cpu detector's training step on its
// own: the half-width ResNet-18 backbone and the 1x1 input projections at
// bench_detector's batch (B=2, 256x256), each as forward, input gradient and
// weight gradient where the training step computes them (the stem and
// layer1 are frozen and their inputs need no gradient, so they run forward
// only; a stage's first convolution needs no input gradient either, as its
// input comes from a frozen stage only in layer2). Prints a table and, with
// --json FILE, writes the rows; benchmarks/peers/run_peers.py --convs runs
// the same list in PyTorch (torch.nn.functional.conv2d and
// aten::convolution_backward) and prints peer / mfx per row.
//   bench_conv_layers [--json FILE] [--batch 2] [--size 256] [--quick]
#include <fmt/format.h>
#include <mfx/cpu.h>
#include <mfx/mfx.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench_utils.h"

using namespace mfx;

namespace {

struct Layer {
  std::string name;
  int64_t in_ch, out_ch, kernel, stride, size;  // size: the input's height = width
  bool input_grad, weight_grad;
};

// The layers of a half-width ResNet-18 (channels 32..256) at `image` pixels,
// and the projections of C3..C5 to d_model 64, in the order the forward
// runs them.
std::vector<Layer> detector_layers(int64_t image) {
  std::vector<Layer> layers;
  layers.push_back({"stem 7x7 s2", 3, 32, 7, 2, image, false, false});
  int64_t size = image / 4;  // after the stem and the max pool
  int64_t ch = 32;
  for (int stage = 1; stage <= 4; ++stage) {
    const int64_t out = 32 << (stage - 1);
    const bool trained = stage > 1;
    for (int block = 0; block < 2; ++block) {
      const int64_t stride = stage > 1 && block == 0 ? 2 : 1;
      const std::string prefix = fmt::format("layer{}.{}", stage, block);
      // Only layer2's first block reads a frozen stage's output.
      const bool first_trained = stage == 2 && block == 0;
      layers.push_back(
          {prefix + ".conv1", ch, out, 3, stride, size, trained && !first_trained, trained});
      const int64_t out_size = size / stride;
      layers.push_back({prefix + ".conv2", out, out, 3, 1, out_size, trained, trained});
      if (stride != 1 || ch != out)
        layers.push_back(
            {prefix + ".downsample", ch, out, 1, stride, size, trained && !first_trained, trained});
      ch = out;
      size = out_size;
    }
  }
  int64_t level_size = image / 8;
  for (int level = 0; level < 3; ++level) {
    layers.push_back(
        {fmt::format("input_proj.{}", level), 64 << level, 64, 1, 1, level_size, true, true});
    level_size /= 2;
  }
  return layers;
}

}  // namespace

int main(int argc, char** argv) {
  cpu::use_native_blas(argc, argv);  // before any thread starts
  std::string json_path;
  int64_t batch = 2, image = 256;
  double min_seconds = 0.3;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--batch" && i + 1 < argc) {
      batch = std::stoll(argv[++i]);
    } else if (a == "--size" && i + 1 < argc) {
      image = std::stoll(argv[++i]);
    } else if (a == "--quick") {
      min_seconds = 0.02;
    } else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--batch 2] [--size 256] [--quick]\n", argv[0]);
      return 2;
    }
  }
  if (batch < 1 || image < 32 || image % 32 != 0) {
    std::fprintf(stderr, "bench_conv_layers: --batch must be >= 1 and --size a multiple of 32\n");
    return 2;
  }
  bench::print_blas_note();
  array key = random::key(7);
  nlohmann::json rows = nlohmann::json::array();
  fmt::print("{:<22} {:<30} {:<12} {:>9}\n", "layer", "x / w (stride)", "op", "ms");
  double total = 0;
  int index = 0;
  for (const Layer& l : detector_layers(image)) {
    const int64_t pad = l.kernel / 2, out = (l.size + 2 * pad - l.kernel) / l.stride + 1;
    array x = random::normal(random::fold_in(key, 3 * index), {batch, l.in_ch, l.size, l.size});
    array w = random::normal(random::fold_in(key, 3 * index + 1),
                             {l.out_ch, l.in_ch, l.kernel, l.kernel});
    array ct = random::normal(random::fold_in(key, 3 * index + 2), {batch, l.out_ch, out, out});
    eval({x, w, ct});
    ++index;
    const Pair s{l.stride, l.stride}, p{pad, pad}, k{l.kernel, l.kernel};
    std::vector<std::pair<std::string, std::function<array()>>> ops{
        {"forward", [&] { return conv2d(x, w, s, p); }}};
    if (l.input_grad)
      ops.push_back({"input_grad", [&] {
                       return conv2d_input_grad(ct, w, {l.size, l.size}, s, p);
                     }});
    if (l.weight_grad)
      ops.push_back({"weight_grad", [&] { return conv2d_weight_grad(x, ct, k, s, p); }});
    for (auto& [op, build] : ops) {
      const double ms = bench::median_ms([&] { build().eval(); }, 5, min_seconds, 200);
      total += ms;
      const std::string shapes =
          fmt::format("{} / {} ({})", shape_str(x.shape()), shape_str(w.shape()), l.stride);
      fmt::print("{:<22} {:<30} {:<12} {:>9.3f}\n", l.name, shapes, op, ms);
      rows.push_back({{"layer", l.name},
                      {"op", op},
                      {"x", x.shape()},
                      {"w", w.shape()},
                      {"stride", l.stride},
                      {"padding", pad},
                      {"ms", ms}});
    }
  }
  fmt::print("{:<22} {:<30} {:<12} {:>9.3f}\n", "total", "", "", total);
  if (!json_path.empty()) {
    const nlohmann::json out{{"batch", batch},
                             {"size", image},
                             {"blas", bench::blas_info()},
                             {"rows", rows},
                             {"total_ms", total}};
    if (!bench::write_text(json_path, out.dump(2) + "\n")) return 1;
  }
  return 0;
}

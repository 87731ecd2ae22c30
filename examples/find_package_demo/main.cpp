// A program against an installed mfx (find_package(mfx), then mfx::mfx,
// mfx::compiler, mfx::models): arrays, grad of the match-free loss on a
// small detector, and a jitted function with its fusion report.
#include <mfx/detr/detector.h>
#include <mfx/jit.h>
#include <mfx/mfx.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

int main(int argc, char** argv) {
  using namespace mfx;
  const std::string report_dir = argc > 1 ? argv[1] : "demo_fusion_report";

  // Arrays: each softmax row sums to one, so y[0][0] lies between x's min and max.
  array x = reshape(arange(6, float32), {2, 3});
  array y = matmul(softmax(x, -1), transpose(x));
  const float y00 = y.to_vector<float>()[0];
  std::printf("y[0][0] = %.4f\n", y00);
  if (!(y00 > 0.0f && y00 < 2.0f)) return 1;

  // grad of the match-free loss: model and probe gradients in one Tree.
  detr::LossConfig cfg;
  cfg.model = detr::DetectorConfig::small_cpu(3);
  cfg.train = false;
  const Tree params{{"model", detr::init_detector(random::key(0), cfg.model)},
                    {"probe", criteria::init_probe(random::key(1), 3, cfg.model.detr.d_model)}};
  const detr::Batch batch{
      random::normal(random::key(2), {1, 3, 64, 64}), zeros({1, 64, 64}, bool_),
      criteria::pad_targets({array({0, 2}, {2}, int32)},
                            {array({0.3f, 0.4f, 0.2f, 0.3f, 0.7f, 0.6f, 0.3f, 0.2f}, {2, 4})}, 8)};
  const Tree g = mfx::grad(mfx::detr::matchfree_loss)(params, batch, cfg);
  const float gq = sum(abs(g.at("probe.w_q"))).item<float>();
  const float gc = sum(abs(g.at("model.class_embed.weight"))).item<float>();
  std::printf("|dL/d probe.w_q| = %.3g, |dL/d class_embed| = %.3g\n", gq, gc);
  if (!(std::isfinite(gq) && gq > 0.0f && std::isfinite(gc) && gc > 0.0f)) return 1;

  // jit: the same softmax-matmul compiled, equal to eager, with its report.
  JitFunction f = jit(
      [](const std::vector<array>& a) {
        return std::vector<array>{matmul(softmax(a[0], -1), transpose(a[0]))};
      },
      {.name = "softmax_matmul"});
  const array yj = f({x})[0];
  if (!allclose(yj, y, 1e-5, 1e-6)) return 1;
  f.write_report(report_dir);
  const bool written = std::filesystem::exists(report_dir + "/summary.txt") &&
                       std::filesystem::exists(report_dir + "/graph.html");
  std::printf("jit: %d launches per call; fusion report in %s\n", f.stats().kernels,
              report_dir.c_str());
  return written ? 0 : 1;
}

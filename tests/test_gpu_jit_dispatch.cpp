// A GPU plan's steps through the GPU dispatch (compiler/gpu/jit_steps.h) on
// the CPU target: fused kernels launched from their Kernel IR with dense
// buffers, range checks of gather/scatter indices, views and library calls,
// node by node as jitted programs run on GPU arrays. tests/gpu_fused_kernels
// and a GPU machine run the same kernels as PTX.
#include "compiler/gpu/dispatch.h"
#include "compiler/gpu/one_op.h"
#include "compiler/jit/fused_kernel.h"
#include "compiler/jit/plan.h"
#include "grad_check.h"

using namespace mfx;
using mfx::test::check_close;
using mfx::test::rand_like;
using mfx::test::values;

namespace {

// y's graph evaluated node by node the way GPU ops run, on the CPU target.
array via_gpu_path(const array& y) {
  if (y.is_evaluated()) return y;
  std::vector<array> ins = y.inputs();
  for (auto& in : ins) via_gpu_path(in);
  std::vector<array> outs = y.outputs();
  gpu_detail::evaluate(y.primitive(), ins, outs, compiler::Target::Cpu, Device::cpu());
  return y;
}

// A match-free-shaped step: per-image softmax and column maxima, a gather
// at labels and its scatter-add gradient, a small matmul, a concatenation.
std::vector<array> step(const std::vector<array>& a) {
  auto [outs, grads] = vjp(
      [&](const std::vector<array>& p) {
        array s = softmax(p[0], -1);                               // [B, M, N]
        array z = take_along_axis(p[1], expand_dims(a[2], 1), 2);  // [B, N, M]
        array y = matmul(sigmoid(z), s);                           // [B, N, N], contraction M
        array c = concatenate({max(s, -2, true), swapaxes(z, 1, 2)}, 1);  // [B, M+1, N]
        return std::vector<array>{sum(square(y)) + sum(c * c)};
      },
      {a[0], a[1]}, std::vector<array>{ones({}, float32)});
  return {outs[0], grads[0], grads[1]};
}

std::vector<array> run_gpu_plan(const std::vector<array>& args) {
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& a : args) {
    shapes.push_back(a.shape());
    dtypes.push_back(a.dtype());
  }
  jit_detail::SimplifyStats st;
  auto g = jit_detail::simplify(jit_detail::trace(step, shapes, dtypes, "gpu_steps"), &st);
  JitOptions options{.name = "gpu_steps", .plan_for_gpu = true};
  auto plan = jit_detail::make_plan(g, options, jit_detail::PlanTarget::GpuProgram);
  int fused = 0;
  for (auto& n : plan.program.nodes) {
    fused += dynamic_cast<jit_detail::FusedKernel*>(n.prim.get()) != nullptr;
  }
  CHECK(fused >= 2);
  auto outs = jit_detail::replay(plan.program, args);
  for (auto& o : outs) via_gpu_path(o);
  return outs;
}

}  // namespace

TEST_CASE("a GPU plan's steps through the GPU dispatch equal eager", "[gpu][jit]") {
  array scores = astype(rand_like({6, 5, 40}, 41) * 3.0, float32);
  array logits = astype(rand_like({6, 40, 9}, 42), float32);
  array labels = astype(remainder(arange(30, int32) * 7, array(9)), int32);
  labels = reshape(labels, {6, 5});
  std::vector<array> args = {scores, logits, labels};
  eval(args);
  auto want = step(args);
  auto got = run_gpu_plan(args);
  REQUIRE(got.size() == want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    check_close(got[k], values(want[k]), want[k].shape(), 1e-4, 1e-5);
  }
  // An out-of-range label is reported by the fused kernel's range check.
  array bad =
      where(equal(reshape(arange(30, int32), {6, 5}), array(4, int32)), array(9, int32), labels);
  bad.eval();
  mfx::test::check_throws_with([&] { run_gpu_plan({scores, logits, bad}); }, {"index 9", "size 9"});
}

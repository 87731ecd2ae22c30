// jit(f): the per-signature cache in front of CompiledFunction.
#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <mutex>

#include "compiler/jit/compiled.h"
#include "mfx/ops.h"

namespace mfx {

using jit_detail::CompiledFunction;

struct JitFunction::State {
  ArrayFn f;
  JitOptions options;
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<CompiledFunction>> cache;
  std::shared_ptr<CompiledFunction> last;
  int hits = 0;
};

namespace {

std::string signature(const std::vector<array>& args) {
  std::string key;
  for (auto& a : args) {
    key += fmt::format("{}{}@{};", dtype_name(a.dtype()), shape_str(a.shape()), a.device().str());
  }
  return key;
}

// The shapes and dtypes of a compiled function's outputs.
std::pair<std::vector<Shape>, std::vector<Dtype>> output_types(const CompiledFunction& fn) {
  std::pair<std::vector<Shape>, std::vector<Dtype>> t;
  for (int v : fn.traced().outputs) {
    t.first.push_back(fn.traced().values[v].shape);
    t.second.push_back(fn.traced().values[v].dtype);
  }
  return t;
}

// Lazy outputs of a compiled function called on `args`.
std::vector<array> call(const std::shared_ptr<CompiledFunction>& fn, std::vector<array> args) {
  auto [shapes, dtypes] = output_types(*fn);
  return array::make_arrays(shapes, dtypes, std::make_shared<jit_detail::Compiled>(fn),
                            std::move(args));
}

}  // namespace

JitFunction::JitFunction(ArrayFn f, JitOptions options) : state_(std::make_shared<State>()) {
  state_->f = std::move(f);
  state_->options = std::move(options);
}

std::vector<array> JitFunction::operator()(const std::vector<array>& args) const {
  std::shared_ptr<CompiledFunction> fn = compiled_for(args);
  fn->plan();  // plans and compiles now, so that its errors come from this call
  return call(fn, args);
}

JitVjp JitFunction::vjp(const std::vector<array>& args, const std::vector<int>& argnums) const {
  for (int a : argnums) {
    if (a < 0 || a >= static_cast<int>(args.size())) {
      throw std::invalid_argument(fmt::format("[jit] {}: vjp argnum {} is out of range for {} arguments",
                                              state_->options.name, a, args.size()));
    }
  }
  std::shared_ptr<CompiledFunction> fn = compiled_for(args);
  const CompiledFunction::SplitVjp& split = fn->split_vjp(argnums);
  std::vector<array> all = call(split.forward, args);
  JitVjp r;
  r.outputs.assign(all.begin(), all.begin() + static_cast<long>(split.outputs));
  std::vector<array> residuals(all.begin() + static_cast<long>(split.outputs), all.end());
  auto [out_shapes, out_dtypes] = output_types(*fn);
  // Shapes, not the arrays: the pullback should not keep the arguments alive.
  std::vector<Shape> arg_shapes;
  std::vector<Dtype> arg_dtypes;
  for (const auto& a : args) arg_shapes.push_back(a.shape()), arg_dtypes.push_back(a.dtype());
  const std::string name = state_->options.name;
  auto backward = split.backward;
  auto differentiated = split.argnums;
  r.pullback = [=](const std::vector<array>& cts) {
    if (cts.size() != out_shapes.size()) {
      throw std::invalid_argument(fmt::format("[jit] {}: pullback takes {} cotangents, got {}",
                                              name, out_shapes.size(), cts.size()));
    }
    for (size_t i = 0; i < cts.size(); ++i) {
      if (!cts[i].valid() || cts[i].shape() != out_shapes[i] || cts[i].dtype() != out_dtypes[i]) {
        throw std::invalid_argument(fmt::format(
            "[jit] {}: cotangent {} must have the output's shape {} and dtype {}, got {}", name,
            i, shape_str(out_shapes[i]), dtype_name(out_dtypes[i]),
            cts[i].valid()
                ? fmt::format("{} {}", shape_str(cts[i].shape()), dtype_name(cts[i].dtype()))
                : std::string("a null array")));
      }
    }
    std::vector<array> in = residuals;
    in.insert(in.end(), cts.begin(), cts.end());
    std::vector<array> got = call(backward, in);
    std::vector<array> res;
    for (size_t a = 0; a < arg_shapes.size(); ++a) res.push_back(zeros(arg_shapes[a], arg_dtypes[a]));
    for (size_t i = 0; i < differentiated.size(); ++i) res[differentiated[i]] = got[i];
    return res;
  };
  return r;
}

std::shared_ptr<CompiledFunction> JitFunction::compiled_for(const std::vector<array>& args) const {
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i].valid()) {
      throw std::invalid_argument(
          fmt::format("[jit] {}: argument {} is a null array", state_->options.name, i));
    }
  }
  std::shared_ptr<CompiledFunction> fn;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    std::string key = signature(args);
    auto it = state_->cache.find(key);
    if (it != state_->cache.end()) {
      fn = it->second;
      ++state_->hits;
    } else {
      std::vector<Shape> shapes;
      std::vector<Dtype> dtypes;
      for (auto& a : args) {
        shapes.push_back(a.shape());
        dtypes.push_back(a.dtype());
      }
      auto g = jit_detail::trace(state_->f, shapes, dtypes, state_->options.name);
      // Inputs on a GPU get a GPU plan (its kernels then run there).
      JitOptions options = state_->options;
      for (auto& a : args) options.plan_for_gpu = options.plan_for_gpu || a.on_gpu();
      fn = std::make_shared<CompiledFunction>(std::move(g), options);
      state_->cache.emplace(key, fn);
      std::string dir = state_->options.report_dir;
      if (const char* env = std::getenv("MFX_FUSION_REPORT"); dir.empty() && env) dir = env;
      if (!dir.empty()) {
        jit_detail::write_plan_report(
            fn->plan(), fn->stats(), fn->options(),
            fmt::format("{}/{}_{}", dir, state_->options.name, state_->cache.size()), false);
      }
    }
    state_->last = fn;
  }
  return fn;
}

int JitFunction::cache_size() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return static_cast<int>(state_->cache.size());
}

int JitFunction::cache_hits() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->hits;
}

JitStats JitFunction::stats() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!state_->last) {
    throw std::logic_error(
        fmt::format("[jit] {}: no call yet, so no statistics", state_->options.name));
  }
  return state_->last->stats();
}

std::string JitFunction::report_json() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  if (!state_->last) {
    throw std::logic_error(
        fmt::format("[jit] {}: no call yet, so no report", state_->options.name));
  }
  return jit_detail::plan_report_json(state_->last->plan(), state_->last->stats(), state_->options);
}

void JitFunction::write_report(const std::string& dir, bool with_ptx) const {
  std::shared_ptr<CompiledFunction> fn;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    fn = state_->last;
  }
  if (!fn) {
    throw std::logic_error(
        fmt::format("[jit] {}: no call yet, so no report", state_->options.name));
  }
  jit_detail::write_plan_report(fn->plan(), fn->stats(), fn->options(), dir, with_ptx);
}

std::string JitFunction::profile(size_t top) const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->last ? state_->last->profile_text(top) : std::string();
}

JitFunction jit(ArrayFn f, JitOptions options) {
  return JitFunction(std::move(f), std::move(options));
}

}  // namespace mfx

// The GPU route registry and the dispatch through it (see dispatch.h).
#include "compiler/gpu/dispatch.h"

#include <fmt/format.h>

#include <stdexcept>

#include "compiler/gpu/conv.h"
#include "compiler/gpu/detection.h"
#include "compiler/gpu/host_steps.h"
#include "compiler/gpu/jit_steps.h"
#include "compiler/gpu/matmul.h"
#include "compiler/gpu/one_op.h"
#include "compiler/gpu/random.h"
#include "compiler/gpu/scan.h"
#include "compiler/gpu/scatter.h"
#include "compiler/gpu/sort.h"
#include "compiler/gpu/views.h"

namespace mfx::gpu_detail {

void GpuKernelRegistry::add(std::type_index type, GpuKernelFn run, std::string route,
                            bool host_round_trip) {
  if (!entries_.emplace(type, Entry{run, std::move(route), host_round_trip}).second) {
    throw std::logic_error(fmt::format("[gpu] a second GPU route for {}", type.name()));
  }
}

const GpuKernelRegistry::Entry* GpuKernelRegistry::find(std::type_index type) const {
  auto it = entries_.find(type);
  return it == entries_.end() ? nullptr : &it->second;
}

namespace {

// Every family's routes. The order does not matter: each type has one route.
void register_gpu_kernels(GpuKernelRegistry& r) {
  register_view_kernels(r);
  register_matmul_kernels(r);
  register_conv_kernels(r);
  register_sort_kernels(r);
  register_detection_kernels(r);
  register_random_kernels(r);
  register_scan_kernels(r);
  register_scatter_kernels(r);
  register_jit_steps(r);
  register_host_steps(r);
}

}  // namespace

const GpuKernelRegistry& gpu_kernels() {
  // Filled once, thread-safely (a function-local static), and only read after.
  static const GpuKernelRegistry registry = [] {
    GpuKernelRegistry r;
    register_gpu_kernels(r);
    return r;
  }();
  return registry;
}

void evaluate(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs,
              compiler::Target target, Device device) {
  const GpuKernelRegistry::Entry* entry = gpu_kernels().find(typeid(p));
  if (entry && entry->run(p, inputs, outputs, target, device)) return;
  eval_one_op(p, inputs, outputs, target, device);
}

std::string gpu_route(const Primitive& p) {
  const GpuKernelRegistry::Entry* entry = gpu_kernels().find(typeid(p));
  return entry ? entry->route : "generated one-op kernel";
}

}  // namespace mfx::gpu_detail

// Primitive: the operation recorded in a graph node. Every op is either a
// primitive or a composition of primitives; a primitive carries its kernels
// and (with the transforms) its differentiation and batching rules.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "mfx/array.h"

namespace mfx {

class Primitive : public std::enable_shared_from_this<Primitive> {
 public:
  explicit Primitive(Device device = default_device()) : device_(device) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  /// Stable name, e.g. "Add", used in errors, graph dumps and fusion reports.
  virtual std::string name() const = 0;

  /// Computes `outputs` (already shaped and typed, not yet allocated) from
  /// evaluated `inputs` on the CPU.
  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  /// Same on a GPU; primitives without a GPU kernel throw.
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs);

  /// Reverse-mode rule: cotangents of the inputs listed in `argnums`.
  virtual std::vector<array> vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums,
                                 const std::vector<array>& outputs);
  /// Forward-mode rule: tangents of the outputs given tangents of `argnums`.
  virtual std::vector<array> jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);
  /// Batching rule: given inputs that carry an extra batch axis at `axes[i]`
  /// (-1: input i is not batched, at least one is) and the unbatched
  /// `outputs` (for their shapes and dtypes), returns the batched outputs and
  /// the position of the batch axis in each. The default applies the
  /// primitive to every batch element and stacks the results (correct for
  /// every primitive, but one node per element: fast rules override it).
  virtual std::pair<std::vector<array>, std::vector<int>> vmap(const std::vector<array>& inputs,
                                                               const std::vector<int>& axes,
                                                               const std::vector<array>& outputs);

  /// True when `other` computes the same function (same type and parameters);
  /// used for common-subexpression elimination.
  virtual bool is_equivalent(const Primitive& other) const { return false; }

  Device device() const { return device_; }

 private:
  Device device_;
};

}  // namespace mfx

/// Declares a primitive's vjp and jvp overrides (inside the class body).
#define MFX_DECLARE_GRAD_RULES                                                           \
  std::vector<mfx::array> vjp(                                                           \
      const std::vector<mfx::array>& primals, const std::vector<mfx::array>& cotangents, \
      const std::vector<int>& argnums, const std::vector<mfx::array>& outputs) override; \
  std::vector<mfx::array> jvp(const std::vector<mfx::array>& primals,                    \
                              const std::vector<mfx::array>& tangents,                   \
                              const std::vector<int>& argnums) override

/// Declares a primitive's vmap override (inside the class body).
#define MFX_DECLARE_VMAP_RULE                                              \
  std::pair<std::vector<mfx::array>, std::vector<int>> vmap(               \
      const std::vector<mfx::array>& inputs, const std::vector<int>& axes, \
      const std::vector<mfx::array>& outputs) override

// custom_vjp and checkpoint: both wrap a function into one opaque graph node
// whose forward evaluates the function and whose vjp is either the user's
// backward or a fresh trace of the function (rematerialisation).
#include <fmt/format.h>

#include "mfx/ops.h"
#include "mfx/primitive.h"
#include "mfx/transforms.h"

namespace mfx {

namespace {

class Wrapped : public Primitive {
 public:
  Wrapped(std::string name, ArrayFn f, BackwardFn backward)
      : name_(std::move(name)), f_(std::move(f)), backward_(std::move(backward)) {}
  std::string name() const override { return name_; }

  void eval_cpu(const std::vector<array>& in, std::vector<array>& out) override {
    std::vector<array> res = f_(in);
    mfx::eval(res);
    for (size_t i = 0; i < out.size(); ++i) {
      out[i].set_view(res[i], res[i].strides(), 0, res[i].data_size(), res[i].flags());
    }
  }

  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override {
    std::vector<array> all;
    if (backward_) {
      all = backward_(primals, outputs, cotangents);
      if (all.size() != primals.size()) {
        throw std::invalid_argument(fmt::format("[{}] the backward returned {} cotangents for {} inputs",
                                                name_, all.size(), primals.size()));
      }
    } else {
      all = mfx::vjp(f_, primals, cotangents).second;  // recompute the forward
    }
    std::vector<array> picked;
    for (int a : argnums) {
      if (all[a].shape() != primals[a].shape()) {
        throw std::invalid_argument(fmt::format("[{}] backward cotangent {} has shape {}, input has {}",
                                                name_, a, shape_str(all[a].shape()),
                                                shape_str(primals[a].shape())));
      }
      picked.push_back(astype(all[a], primals[a].dtype()));
    }
    return picked;
  }

  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override {
    std::vector<array> full;
    for (auto& p : primals) full.push_back(zeros_like(p));
    for (size_t k = 0; k < argnums.size(); ++k) full[argnums[k]] = tangents[k];
    // Only floating primals can carry tangents; integer ones stay constant.
    std::vector<int> diff;
    std::vector<array> fp, ft;
    for (size_t i = 0; i < primals.size(); ++i) {
      if (is_floating(primals[i].dtype())) {
        diff.push_back(static_cast<int>(i));
        fp.push_back(primals[i]);
        ft.push_back(full[i]);
      }
    }
    auto g = [&](const std::vector<array>& sub) {
      std::vector<array> args = primals;
      for (size_t k = 0; k < diff.size(); ++k) args[diff[k]] = sub[k];
      return f_(args);
    };
    return mfx::jvp(g, fp, ft).second;
  }

 private:
  std::string name_;
  ArrayFn f_;
  BackwardFn backward_;
};

ArrayFn wrap(std::string name, ArrayFn f, BackwardFn backward) {
  if (!f) throw std::invalid_argument(fmt::format("[{}] empty function", name));
  return [name, f, backward](const std::vector<array>& inputs) {
    // Shapes and dtypes come from building (not running) f's graph once.
    std::vector<array> probe = f(inputs);
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (auto& o : probe) {
      shapes.push_back(o.shape());
      dtypes.push_back(o.dtype());
    }
    auto prim = std::make_shared<Wrapped>(name, f, backward);
    return array::make_arrays(shapes, dtypes, prim, inputs);
  };
}

}  // namespace

ArrayFn custom_vjp(ArrayFn f, BackwardFn backward) {
  if (!backward) throw std::invalid_argument("[custom_vjp] empty backward function");
  return wrap("CustomVJP", std::move(f), std::move(backward));
}

ArrayFn checkpoint(ArrayFn f) { return wrap("Checkpoint", std::move(f), nullptr); }

}  // namespace mfx

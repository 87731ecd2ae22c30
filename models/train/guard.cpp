// check_finite: one flag per leaf, stacked and evaluated together.
#include "mfx/train/guard.h"

#include <fmt/format.h>

#include <cmath>

#include "mfx/ops.h"

namespace mfx::train {

namespace {

constexpr size_t kMaxListed = 10;

struct Leaf {
  std::string path;
  array value;
};

void collect(const Tree& t, const std::string& root, std::vector<Leaf>& out) {
  for (auto& [path, a] : t.flatten()) {
    std::string full = path.empty() ? root : root + "." + path;
    if (!a.valid()) {
      throw std::invalid_argument(fmt::format("[check_finite] leaf '{}' is a null array", full));
    }
    out.push_back({full, a});
  }
}

}  // namespace

void check_finite(const Tree& loss, const Tree& grads, int64_t step) {
  std::vector<Leaf> leaves;
  collect(loss, "loss", leaves);
  collect(grads, "grads", leaves);
  std::vector<array> flags;
  std::vector<size_t> checked;  // leaves[checked[i]] owns flags[i]
  for (size_t i = 0; i < leaves.size(); ++i) {
    if (!is_floating(leaves[i].value.dtype())) continue;
    flags.push_back(all(isfinite(leaves[i].value)));
    checked.push_back(i);
  }
  if (flags.empty()) return;
  std::vector<uint8_t> ok = stack(flags).to_vector<uint8_t>();

  std::vector<std::string> bad;
  std::vector<std::string> shown;
  for (size_t i = 0; i < ok.size(); ++i) {
    if (ok[i]) continue;
    const Leaf& leaf = leaves[checked[i]];
    bad.push_back(leaf.path);
    if (shown.size() >= kMaxListed) continue;
    if (leaf.value.size() == 1) {
      shown.push_back(fmt::format("{} ({})", leaf.path, leaf.value.item<double>()));
    } else {
      shown.push_back(leaf.path);
    }
  }
  if (bad.empty()) return;
  std::string list;
  for (auto& s : shown) {
    if (!list.empty()) list += ", ";
    list += s;
  }
  if (bad.size() > shown.size()) list += fmt::format(", and {} more", bad.size() - shown.size());
  std::string msg = fmt::format("[check_finite] step {}: non-finite values in {} of {} leaves: {}",
                                step, bad.size(), leaves.size(), list);
  throw NonFiniteError(step, std::move(bad), msg);
}

}  // namespace mfx::train

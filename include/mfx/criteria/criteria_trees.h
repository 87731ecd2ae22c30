// Criteria as functions of Trees, so that jit_tree can compile them: decoder
// outputs packed into a Tree, and the match-free loss with its gradients.
#pragma once

#include <string>
#include <tuple>

#include "mfx/criteria/criteria.h"
#include "mfx/mfx.h"

namespace mfx::criteria {

/// Decoder outputs as a Tree: logits_i, boxes_i, hidden_i for each layer i.
inline Tree outputs_tree(const DecoderOutputs& o) {
  Tree t;
  for (size_t i = 0; i < o.logits.size(); ++i) {
    t["logits_" + std::to_string(i)] = Tree(o.logits[i]);
    t["boxes_" + std::to_string(i)] = Tree(o.boxes[i]);
    t["hidden_" + std::to_string(i)] = Tree(o.hidden[i]);
  }
  return t;
}

inline DecoderOutputs outputs_from(const Tree& t, int layers) {
  DecoderOutputs o;
  for (int i = 0; i < layers; ++i) {
    o.logits.push_back(t["logits_" + std::to_string(i)].leaf());
    o.boxes.push_back(t["boxes_" + std::to_string(i)].leaf());
    o.hidden.push_back(t["hidden_" + std::to_string(i)].leaf());
  }
  return o;
}

/// (probe, outputs, targets{labels, boxes, mask}) -> (loss, d/dprobe, d/doutputs).
inline auto matchfree_loss_and_grads(int layers, MatchFreeConfig cfg = {}) {
  return [layers, cfg](const Tree& probe, const Tree& outs, const Tree& targets) {
    Targets t{targets["labels"].leaf(), targets["boxes"].leaf(), targets["mask"].leaf()};
    auto loss = [&](const Tree& p, const Tree& o) {
      return matchfree_criterion(p, outputs_from(o, layers), t, cfg).loss;
    };
    auto [value, grads] = value_and_grad<0, 1>(loss)(probe, outs);
    return std::make_tuple(value, std::get<0>(grads), std::get<1>(grads));
  };
}

}  // namespace mfx::criteria

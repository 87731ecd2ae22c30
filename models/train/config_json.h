// JSON pieces of the run configuration shared by the checkpoint metadata and
// args.json (internal).
#pragma once

#include <nlohmann/json.hpp>

#include "mfx/criteria/criteria.h"

namespace mfx::train::detail {

/// Every MatchFreeConfig setting (variants by name), as checkpoints record it.
nlohmann::json matchfree_to_json(const criteria::MatchFreeConfig& m);

}  // namespace mfx::train::detail

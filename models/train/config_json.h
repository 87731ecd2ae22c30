// JSON pieces of the run configuration shared by the checkpoint metadata and
// args.json (internal).
#pragma once

#include <nlohmann/json.hpp>

#include "mfx/criteria/criteria.h"

namespace mfx::train::detail {

/// Every MatchFreeConfig setting (variants by name), as checkpoints record it.
nlohmann::json matchfree_to_json(const criteria::MatchFreeConfig& m);

/// The inverse of matchfree_to_json; a missing or mistyped field or an
/// invalid value throws std::runtime_error "[checkpoint_info] <source>: ...".
criteria::MatchFreeConfig matchfree_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace mfx::train::detail

// Which training criterion a run uses, as a typed value: flags, args.json,
// metrics and checkpoints spell it "hungarian" / "matchfree", and parsing
// that text is the one place it is validated.
#pragma once

#include <string>

namespace mfx::criteria {

/// hungarian: hungarian_criterion (the baseline); matchfree: matchfree_criterion.
enum class Criterion { hungarian, matchfree };

/// "hungarian" or "matchfree".
const char* to_string(Criterion c);

/// The inverse of to_string. Throws std::invalid_argument naming `what`
/// (the flag or field the text came from) and the accepted names, e.g.
/// "criterion must be one of 'hungarian', 'matchfree', got 'focal'".
Criterion parse_criterion(const std::string& text, const std::string& what = "criterion");

}  // namespace mfx::criteria

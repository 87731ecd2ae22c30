// criteria::Criterion's names (see include/mfx/criteria/criterion.h).
#include "mfx/criteria/criterion.h"

#include <stdexcept>

namespace mfx::criteria {

const char* to_string(Criterion c) {
  switch (c) {
    case Criterion::hungarian:
      return "hungarian";
    case Criterion::matchfree:
      return "matchfree";
  }
  return "?";
}

Criterion parse_criterion(const std::string& text, const std::string& what) {
  for (Criterion c : {Criterion::hungarian, Criterion::matchfree}) {
    if (text == to_string(c)) return c;
  }
  throw std::invalid_argument(what + " must be one of 'hungarian', 'matchfree', got '" + text +
                              "'");
}

}  // namespace mfx::criteria

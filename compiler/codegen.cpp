// Target names (the MLIR-free part of codegen.h).
#include "compiler/codegen.h"

namespace mfx::compiler {

const char* target_name(Target t) {
  switch (t) {
    case Target::Cpu:
      return "cpu";
    case Target::Sm80:
      return "sm_80";
    case Target::Sm90:
      return "sm_90";
  }
  return "?";
}

}  // namespace mfx::compiler

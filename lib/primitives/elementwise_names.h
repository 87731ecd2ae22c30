// The public op behind each elementwise primitive (internal): errors a caller
// sees name the function they called, spelled as they called it
// ("floor_divide"), not the primitive ("FloorDivide") that plans and reports
// show. Kept out of primitives/elementwise.h, which the compiler includes.
#pragma once

#include "primitives/elementwise.h"

namespace mfx {

const char* unary_public_name(UnaryOp op);
const char* binary_public_name(BinaryOp op);

}  // namespace mfx

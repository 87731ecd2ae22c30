// Differentiation rules of Matmul. Its inputs already carry the full batch
// shape (the op broadcasts them), so no batch reduction is needed here: the
// Broadcast nodes in front sum over broadcast batch axes.
#include "mfx/mfx.h"
#include "primitives/linalg.h"

namespace mfx {

std::vector<array> Matmul::vjp(const std::vector<array>& primals,
                               const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  const array& a = primals[0];
  const array& b = primals[1];
  const array& ct = cotangents[0];
  std::vector<array> out;
  for (int arg : argnums) {
    // dA = dC B^T, dB = A^T dC.
    out.push_back(arg == 0 ? matmul(ct, swapaxes(b, -1, -2)) : matmul(swapaxes(a, -1, -2), ct));
  }
  return out;
}

std::vector<array> Matmul::jvp(const std::vector<array>& primals,
                               const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  array result;
  for (size_t k = 0; k < argnums.size(); ++k) {
    array term =
        argnums[k] == 0 ? matmul(tangents[k], primals[1]) : matmul(primals[0], tangents[k]);
    result = result.valid() ? result + term : term;
  }
  return {result};
}

}  // namespace mfx

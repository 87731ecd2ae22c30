// Differentiation rules of the random primitives: their outputs are bits or
// samples determined by an integer key, so nothing flows through them (zero
// cotangents for the key, zero tangents for the outputs).
#include "mfx/mfx.h"
#include "primitives/random.h"

namespace mfx {

namespace {

std::vector<array> zero_cts(const std::vector<array>& primals, const std::vector<int>& argnums) {
  std::vector<array> res;
  for (int a : argnums) res.push_back(zeros_like(primals[a]));
  return res;
}

}  // namespace

std::vector<array> RandomSplit::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  return zero_cts(primals, argnums);
}
std::vector<array> RandomSplit::jvp(const std::vector<array>&, const std::vector<array>&,
                                    const std::vector<int>&) {
  return {zeros({num_, 2}, int64)};
}

std::vector<array> RandomBits::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  return zero_cts(primals, argnums);
}
std::vector<array> RandomBits::jvp(const std::vector<array>&, const std::vector<array>&,
                                   const std::vector<int>&) {
  return {zeros(shape_, int64)};
}

std::vector<array> RandomUniform::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                      const std::vector<int>& argnums, const std::vector<array>&) {
  return zero_cts(primals, argnums);
}
std::vector<array> RandomUniform::jvp(const std::vector<array>&, const std::vector<array>&,
                                      const std::vector<int>&) {
  return {zeros(shape_, dtype_)};
}

std::vector<array> RandomInteger::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                      const std::vector<int>& argnums, const std::vector<array>&) {
  return zero_cts(primals, argnums);
}
std::vector<array> RandomInteger::jvp(const std::vector<array>&, const std::vector<array>&,
                                      const std::vector<int>&) {
  return {zeros(shape_, dtype_)};
}

std::vector<array> RandomPermutation::vjp(const std::vector<array>& primals,
                                          const std::vector<array>&,
                                          const std::vector<int>& argnums,
                                          const std::vector<array>&) {
  return zero_cts(primals, argnums);
}
std::vector<array> RandomPermutation::jvp(const std::vector<array>&, const std::vector<array>&,
                                          const std::vector<int>&) {
  return {zeros({n_}, int32)};
}

}  // namespace mfx

// Smallest program against an installed mfx: a softmax and a matmul.
#include <mfx/mfx.h>

#include <cstdio>

int main() {
  using namespace mfx;
  array x = reshape(arange(6, float32), {2, 3});
  array p = softmax(x, -1);
  array y = matmul(p, transpose(x));
  auto v = y.to_vector<float>();
  std::printf("mfx find_package demo: y = [%.4f %.4f; %.4f %.4f]\n", v[0], v[1], v[2], v[3]);
  // Each softmax row sums to one, so y[0][0] lies between x's min and max.
  return (v[0] > 0.0f && v[0] < 2.0f) ? 0 : 1;
}

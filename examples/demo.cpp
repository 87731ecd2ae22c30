// A tiny end-to-end use of the core: data, broadcasting, reductions, matmul,
// random numbers (scripts/run_demo.sh builds and runs it).
#include <mfx/mfx.h>

#include <cstdio>

int main() {
  using namespace mfx;
  array key = random::key(0);
  auto keys = random::split(key, 2);
  array x = random::normal(take(keys, array(0), 0), {4, 3});
  array w = random::uniform(take(keys, array(1), 0), {3, 2}, -1.0, 1.0);
  array logits = matmul(x, w);
  array p = softmax(logits, -1);
  auto v = p.to_vector<float>();
  std::printf("mfx demo: softmax(normal(4,3) @ uniform(3,2)) =\n");
  for (int i = 0; i < 4; ++i) std::printf("  [%.4f %.4f]\n", v[2 * i], v[2 * i + 1]);
  std::printf("row sums: ");
  for (float s : sum(p, {1}).to_vector<float>()) std::printf("%.4f ", s);
  std::printf("\n");
  return 0;
}

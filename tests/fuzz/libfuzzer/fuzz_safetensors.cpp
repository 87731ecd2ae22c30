// libFuzzer target: mfx::load_safetensors and mfx::load_tree on arbitrary bytes.
#include "fuzz_target.h"
#include "mfx/io.h"
#include "mfx/tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mfx::libfuzz::write_scratch(data, size, ".safetensors");
  mfx::libfuzz::expect_clean(path, [&] {
    std::map<std::string, std::string> meta;
    auto arrays = mfx::load_safetensors(path, &meta);
    // The loaded arrays must be whole: read every element back.
    for (auto& [name, a] : arrays) {
      if (static_cast<int64_t>(a.to_vector<double>().size()) != a.size()) {
        mfx::libfuzz::fail("array size", name);
      }
    }
  });
  mfx::libfuzz::expect_clean(path, [&] { mfx::load_tree(path); });
  return 0;
}

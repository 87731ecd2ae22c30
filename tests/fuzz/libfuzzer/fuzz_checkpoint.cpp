// libFuzzer target: mfx::train::load_checkpoint on arbitrary bytes.
#include "fuzz_target.h"
#include "mfx/train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = mfx::libfuzz::write_scratch(data, size, ".safetensors");
  mfx::libfuzz::expect_clean(path, [&] { mfx::train::load_checkpoint(path); });
  return 0;
}

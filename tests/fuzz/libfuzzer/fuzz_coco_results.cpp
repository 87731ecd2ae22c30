// libFuzzer target: mfx::coco::parse_results on arbitrary text.
#include "fuzz_target.h"
#include "mfx/coco/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  mfx::libfuzz::expect_clean("fuzz.json", [&] { mfx::coco::parse_results(text, "fuzz.json"); });
  return 0;
}

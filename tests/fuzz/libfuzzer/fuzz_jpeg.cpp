// libFuzzer target: mfx::coco::decode_image on arbitrary bytes (the seed
// corpus holds JPEG files, so mutations stay mostly in the JPEG decoder).
#include "fuzz_target.h"
#include "mfx/coco/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  mfx::libfuzz::expect_clean("fuzz.jpeg", [&] {
    mfx::coco::RgbImage img = mfx::coco::decode_image(data, size, "fuzz.jpeg");
    if (img.h <= 0 || img.w <= 0 || img.rgb.size() != static_cast<size_t>(img.h) * img.w * 3) {
      mfx::libfuzz::fail("decoded image", std::to_string(img.h) + "x" + std::to_string(img.w));
    }
  });
  return 0;
}

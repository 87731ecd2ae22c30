// COCO data pipeline: image codecs, the synthetic set generator, DETR
// transforms, the dataset, batching and the prefetching loader.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "mfx/coco/data.h"
#include "mfx/coco/image.h"
#include "mfx/coco/loader.h"
#include "mfx/coco/synthetic.h"
#include "test_utils.h"

namespace fs = std::filesystem;
using namespace mfx::coco;
using mfx::test::check_throws_with;
using mfx::test::TempDir;

namespace {

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A deterministic test image: smooth gradients plus a sharp square.
RgbImage pattern(int h, int w) {
  RgbImage img(h, w);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(y, x);
      p[0] = static_cast<uint8_t>(x * 255 / w);
      p[1] = static_cast<uint8_t>(y * 255 / h);
      p[2] = (x > w / 4 && x < w / 2 && y > h / 4 && y < h / 2) ? 220 : 40;
    }
  }
  return img;
}

// Checks that `f` throws std::runtime_error (or a subclass) whose message
// contains every part.
template <typename F>
void check_runtime_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    FAIL("expected std::runtime_error");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) {
      INFO("message: " << msg << " should contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
}

SyntheticConfig small_config(uint64_t seed) {
  SyntheticConfig c;
  c.seed = seed;
  c.num_train = 10;
  c.num_val = 3;
  c.min_side = 64;
  c.max_side = 112;
  c.max_objects = 4;
  return c;
}

// One synthetic set shared by the dataset and loader tests.
const fs::path& shared_set() {
  static TempDir dir;
  static bool made = false;
  if (!made) {
    write_synthetic_coco(dir.path.string(), small_config(7));
    made = true;
  }
  return dir.path;
}

TransformConfig tiny_train() {
  TransformConfig c = detr_train_transforms();
  c.scales = {48, 56, 64};
  c.max_size = 100;
  c.crop_scales = {60, 70};
  c.crop_min = 32;
  c.crop_max = 50;
  return c;
}

AnnotatedImage annotated(int h, int w, std::vector<std::array<double, 4>> boxes) {
  AnnotatedImage a;
  a.image = pattern(h, w);
  a.boxes = std::move(boxes);
  for (size_t i = 0; i < a.boxes.size(); ++i) a.labels.push_back(static_cast<int32_t>(i));
  return a;
}

}  // namespace

// ------------------------------------------------------------ codecs

TEST_CASE("PNG round trip is exact, JPEG close; format by magic bytes", "[coco_data]") {
  TempDir dir;
  RgbImage img = pattern(37, 53);
  img.at(3, 5)[1] = 255;  // a lone sharp pixel
  const std::string png = (dir.path / "a.png").string();
  write_png(png, img);
  RgbImage back = read_image(png);
  REQUIRE(back.h == 37);
  REQUIRE(back.w == 53);
  CHECK(back.rgb == img.rgb);

  const std::string jpg = (dir.path / "a.jpg").string();
  write_jpeg(jpg, img, 95);
  RgbImage j = read_image(jpg);
  REQUIRE(j.h == 37);
  REQUIRE(j.w == 53);
  double total = 0;
  for (size_t i = 0; i < img.rgb.size(); ++i) total += std::abs(int(j.rgb[i]) - int(img.rgb[i]));
  CHECK(total / img.rgb.size() < 3.0);
  CHECK(j.rgb != img.rgb);  // lossy: the test would notice a PNG written by mistake

  // A PNG named .jpg decodes as PNG.
  const fs::path renamed = dir.path / "really_png.jpg";
  fs::copy_file(png, renamed);
  CHECK(read_image(renamed.string()).rgb == img.rgb);
  // Same bytes for the same input (the synthetic set relies on it).
  CHECK(encode_jpeg(img, 90) == encode_jpeg(img, 90));
  check_throws_with([&] { encode_jpeg(img, 0); }, {"coco::encode_jpeg", "quality"});
  check_throws_with([&] { encode_png(RgbImage{}); }, {"coco::encode_png", "0x0"});
}

TEST_CASE("corrupt and truncated images give errors naming the file", "[coco_data]") {
  TempDir dir;
  const RgbImage img = pattern(64, 64);
  const auto jpg = encode_jpeg(img, 90), png = encode_png(img);

  const fs::path tj = dir.path / "truncated.jpg";
  write_bytes(tj, std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() / 2));
  check_runtime_error([&] { read_image(tj.string()); }, {tj.string(), "JPEG"});

  const fs::path tp = dir.path / "truncated.png";
  write_bytes(tp, std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  check_runtime_error([&] { read_image(tp.string()); }, {tp.string(), "PNG"});

  // Corrupt PNG data: a flipped byte inside IDAT fails its CRC.
  auto bad_png = png;
  bad_png[bad_png.size() / 2] ^= 0xFF;
  const fs::path cp = dir.path / "crc.png";
  write_bytes(cp, bad_png);
  check_runtime_error([&] { read_image(cp.string()); }, {cp.string(), "PNG"});

  // Header only: a JPEG cut right after its markers.
  const fs::path hj = dir.path / "header.jpg";
  write_bytes(hj, std::vector<uint8_t>(jpg.begin(), jpg.begin() + 40));
  check_runtime_error([&] { read_image(hj.string()); }, {hj.string(), "JPEG"});

  const fs::path garbage = dir.path / "garbage.jpg";
  write_bytes(garbage, {'h', 'e', 'l', 'l', 'o'});
  check_runtime_error([&] { read_image(garbage.string()); },
                      {garbage.string(), "not a JPEG or PNG"});

  const fs::path missing = dir.path / "missing.jpg";
  check_runtime_error([&] { read_image(missing.string()); }, {missing.string(), "cannot open"});

  // A file_name that is a directory.
  const fs::path folder = dir.path / "folder.jpg";
  fs::create_directories(folder);
  check_runtime_error([&] { read_image(folder.string()); }, {folder.string(), "directory"});
}

TEST_CASE("a JPEG whose scan is cut short before its EOI is an error", "[coco_data]") {
  TempDir dir;
  const RgbImage img = pattern(64, 64);
  const auto jpg = encode_jpeg(img, 90);
  // Keep the headers and the first 10% of the entropy-coded scan, then EOI:
  // libjpeg would decode the rest of the image as grey rows.
  size_t sos = 0;
  for (size_t i = 0; i + 1 < jpg.size(); ++i) {
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xDA) {
      sos = i;
      break;
    }
  }
  REQUIRE(sos > 0);
  const size_t scan_bytes = jpg.size() - 2 - sos;
  std::vector<uint8_t> cut(jpg.begin(), jpg.begin() + sos + scan_bytes / 10);
  cut.push_back(0xFF);
  cut.push_back(0xD9);
  const fs::path p = dir.path / "cut_scan.jpg";
  write_bytes(p, cut);
  check_runtime_error([&] { read_image(p.string()); }, {p.string(), "JPEG"});
  // The whole file still decodes.
  const fs::path whole = dir.path / "whole.jpg";
  write_bytes(whole, jpg);
  CHECK(read_image(whole.string()).h == 64);
}

// ------------------------------------------------------------ synthetic set

TEST_CASE("synthetic set is deterministic per seed", "[coco_data]") {
  TempDir a, b, c;
  write_synthetic_coco(a.path.string(), small_config(3));
  write_synthetic_coco(b.path.string(), small_config(3));
  write_synthetic_coco(c.path.string(), small_config(4));
  size_t files = 0, differing = 0;
  for (const auto& e : fs::recursive_directory_iterator(a.path)) {
    if (!e.is_regular_file()) continue;
    const fs::path rel = fs::relative(e.path(), a.path);
    INFO(rel.string());
    REQUIRE(fs::exists(b.path / rel));
    CHECK(read_bytes(e.path()) == read_bytes(b.path / rel));
    if (!fs::exists(c.path / rel) || read_bytes(e.path()) != read_bytes(c.path / rel)) ++differing;
    ++files;
  }
  CHECK(files == 13 + 2);  // 13 images + 2 JSON files
  CHECK(differing == files);
}

TEST_CASE("synthetic annotations: boxes inside, areas in all COCO ranges", "[coco_data]") {
  TempDir dir;
  SyntheticConfig cfg;
  cfg.seed = 11;
  cfg.num_train = 20;
  cfg.num_val = 4;
  const SyntheticSummary sum = write_synthetic_coco(dir.path.string(), cfg);
  CHECK(sum.train_images == 20);
  CHECK(sum.val_images == 4);
  CHECK(sum.small > 0);
  CHECK(sum.medium > 0);
  CHECK(sum.large > 0);

  int small = 0, medium = 0, large = 0, annotations = 0;
  for (const char* split : {"train", "val"}) {
    const Dataset ds = load_instances(
        (dir.path / "annotations" / (std::string("instances_") + split + ".json")).string());
    REQUIRE(ds.categories.size() == 5);
    std::vector<int64_t> ids;
    for (const auto& c : ds.categories) ids.push_back(c.id);
    CHECK(ids == std::vector<int64_t>{1, 2, 3, 5, 7});
    std::map<int64_t, const mfx::coco::Image*> images;
    for (const auto& im : ds.images) {
      images[im.id] = &im;
      CHECK(im.width >= cfg.min_side);
      CHECK(im.width <= cfg.max_side);
      // The JSON size is the JPEG's size.
      const RgbImage pixels = read_image((dir.path / "images" / im.file_name).string());
      CHECK(pixels.w == im.width);
      CHECK(pixels.h == im.height);
    }
    for (const auto& a : ds.annotations) {
      const auto* im = images.at(a.image_id);
      const auto& b = a.bbox;
      CHECK(b[0] >= 0);
      CHECK(b[1] >= 0);
      CHECK(b[2] >= 1);
      CHECK(b[3] >= 1);
      CHECK(b[0] + b[2] <= im->width);
      CHECK(b[1] + b[3] <= im->height);
      // Drawn pixels fit their tight box and fill a good part of it.
      CHECK(a.area <= b[2] * b[3]);
      CHECK(a.area >= 0.25 * b[2] * b[3]);
      CHECK_FALSE(a.iscrowd);
      ++annotations;
      if (a.area < 32 * 32) {
        ++small;
      } else if (a.area <= 96 * 96) {
        ++medium;
      } else {
        ++large;
      }
    }
  }
  CHECK(annotations == sum.annotations);
  CHECK(small == sum.small);
  CHECK(medium == sum.medium);
  CHECK(large == sum.large);
  check_throws_with(
      [&] {
        SyntheticConfig bad = cfg;
        bad.min_side = 8;
        write_synthetic_coco(dir.path.string(), bad);
      },
      {"coco::write_synthetic_coco", "min_side"});
}

// Largest intersection-over-smaller-box of two annotations of one image.
double worst_box_overlap(const fs::path& dir) {
  double worst = 0;
  for (const char* split : {"train", "val"}) {
    const Dataset ds = load_instances(
        (dir / "annotations" / (std::string("instances_") + split + ".json")).string());
    std::map<int64_t, std::vector<std::array<double, 4>>> boxes;
    for (const auto& a : ds.annotations) boxes[a.image_id].push_back(a.bbox);
    for (const auto& [id, bs] : boxes) {
      for (size_t i = 0; i < bs.size(); ++i) {
        for (size_t j = i + 1; j < bs.size(); ++j) {
          const auto &a = bs[i], &b = bs[j];
          const double w = std::min(a[0] + a[2], b[0] + b[2]) - std::max(a[0], b[0]);
          const double h = std::min(a[1] + a[3], b[1] + b[3]) - std::max(a[1], b[1]);
          if (w > 0 && h > 0) {
            worst = std::max(worst, w * h / std::min(a[2] * a[3], b[2] * b[3]));
          }
        }
      }
    }
  }
  return worst;
}

TEST_CASE("synthetic max_box_overlap keeps shapes' boxes apart", "[coco_data]") {
  SyntheticConfig cfg = small_config(5);
  cfg.num_train = 24;
  cfg.p_small = 0;
  TempDir any, apart;
  const SyntheticSummary all = write_synthetic_coco(any.path.string(), cfg);
  CHECK(worst_box_overlap(any.path) > 0.5);  // the default lets shapes hide each other
  cfg.max_box_overlap = 0.2;
  const SyntheticSummary few = write_synthetic_coco(apart.path.string(), cfg);
  // Tight boxes lie within a pixel of the drawn shapes' boxes.
  CHECK(worst_box_overlap(apart.path) <= 0.3);
  CHECK(few.annotations > 0);
  CHECK(few.annotations <= all.annotations);
  check_throws_with(
      [&] {
        cfg.max_box_overlap = 1.5;
        write_synthetic_coco(apart.path.string(), cfg);
      },
      {"coco::write_synthetic_coco", "max_box_overlap", "1.5"});
}

// ------------------------------------------------------------ transforms

TEST_CASE("hflip mirrors pixels and boxes; twice is the identity", "[coco_data]") {
  AnnotatedImage a = annotated(6, 10, {{1, 2, 4, 6}, {0, 0, 10, 3}});
  const AnnotatedImage orig = a;
  hflip(a);
  CHECK(a.boxes[0] == std::array<double, 4>{6, 2, 9, 6});
  CHECK(a.boxes[1] == std::array<double, 4>{0, 0, 10, 3});
  for (int c = 0; c < 3; ++c) CHECK(a.image.at(2, 0)[c] == orig.image.at(2, 9)[c]);
  hflip(a);
  CHECK(a.image.rgb == orig.image.rgb);
  CHECK(a.boxes == orig.boxes);
  CHECK(a.labels == orig.labels);
}

TEST_CASE("resize: DETR sizes, scaled boxes, bilinear values", "[coco_data]") {
  // DETR's get_size: (h 480, w 640) at 800 -> (800, int(800 * 640 / 480)).
  CHECK(resize_shape(480, 640, 800, 1333) == std::array<int, 2>{800, 1066});
  CHECK(resize_shape(640, 480, 800, 1333) == std::array<int, 2>{1066, 800});
  // Capped: 4 * 800 > 1333, short side round(1333 * 100 / 400) = 333, long int(333 * 4).
  CHECK(resize_shape(100, 400, 800, 1333) == std::array<int, 2>{333, 1332});
  CHECK(resize_shape(100, 400, 800, 0) == std::array<int, 2>{800, 3200});
  CHECK(resize_shape(50, 50, 50, 100) == std::array<int, 2>{50, 50});

  AnnotatedImage a = annotated(20, 40, {{4, 2, 10, 8}});
  resize(a, 10, 20);
  CHECK(a.image.h == 10);
  CHECK(a.image.w == 20);
  CHECK(a.boxes[0] == std::array<double, 4>{2, 1, 5, 4});
  resize_short_side(a, 30, 0);
  CHECK(a.image.h == 30);
  CHECK(a.image.w == 60);
  CHECK(a.boxes[0] == std::array<double, 4>{6, 3, 15, 12});

  // Upscaling [0, 100] by 2 with half-pixel centres:
  // np.interp((np.arange(4) + .5) / 2 - .5, [0, 1], [0, 100]) = [0, 25, 75, 100].
  RgbImage ramp(1, 2);
  ramp.at(0, 1)[0] = 100;
  const RgbImage up = resize_image(ramp, 1, 4);
  CHECK(up.at(0, 0)[0] == 0);
  CHECK(up.at(0, 1)[0] == 25);
  CHECK(up.at(0, 2)[0] == 75);
  CHECK(up.at(0, 3)[0] == 100);
  // Shrinking a 1-px checkerboard averages it instead of aliasing.
  RgbImage checker(32, 32);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) checker.at(y, x)[0] = ((x + y) % 2) ? 200 : 0;
  }
  const RgbImage small = resize_image(checker, 8, 8);
  for (int y = 2; y < 6; ++y) {
    for (int x = 2; x < 6; ++x) CHECK(std::abs(small.at(y, x)[0] - 100) <= 2);
  }
  check_throws_with([&] { resize_image(ramp, 0, 3); }, {"coco::resize_image", "0x3"});
}

TEST_CASE("crop shifts, clips and drops boxes", "[coco_data]") {
  AnnotatedImage a = annotated(10, 12, {{1, 1, 4, 4}, {6, 6, 9, 9}, {3, 3, 8, 8}, {0, 4, 2, 4}});
  const RgbImage orig = a.image;
  crop(a, 1, 2, 5, 5);  // rows 1..5, columns 2..6
  CHECK(a.image.h == 5);
  CHECK(a.image.w == 5);
  for (int c = 0; c < 3; ++c) CHECK(a.image.at(0, 0)[c] == orig.at(1, 2)[c]);
  REQUIRE(a.boxes.size() == 2);
  CHECK(a.boxes[0] == std::array<double, 4>{0, 0, 2, 3});
  CHECK(a.boxes[1] == std::array<double, 4>{1, 2, 5, 5});
  CHECK(a.labels == std::vector<int32_t>{0, 2});
  check_throws_with([&] { crop(a, 2, 0, 4, 4); }, {"coco::crop", "5x5"});
}

TEST_CASE("training transforms are seeded; validation only resizes", "[coco_data]") {
  const AnnotatedImage base = annotated(90, 120, {{10, 10, 60, 50}, {70, 40, 118, 88}});
  const TransformConfig train = tiny_train();
  int changed = 0, flipped_or_cropped = 0;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    AnnotatedImage x = base, y = base, z = base;
    apply_transforms(x, train, seed);
    apply_transforms(y, train, seed);
    apply_transforms(z, train, seed + 100);
    CHECK(x.image.rgb == y.image.rgb);
    CHECK(x.boxes == y.boxes);
    if (x.image.rgb != z.image.rgb) ++changed;
    const int short_side = std::min(x.image.h, x.image.w),
              long_side = std::max(x.image.h, x.image.w);
    CHECK(long_side <= train.max_size);
    CHECK((short_side == 48 || short_side == 56 || short_side == 64 || long_side >= 99));
    for (const auto& b : x.boxes) {
      CHECK(b[0] >= 0);
      CHECK(b[2] <= x.image.w);
      CHECK(b[2] > b[0]);
      CHECK(b[3] > b[1]);
    }
    // Neither crop nor flip: the boxes are the input's scaled by one factor.
    const double s = static_cast<double>(x.image.w) / base.image.w;
    if (x.boxes.size() != 2 || std::abs(x.boxes[0][0] - 10 * s) > 1e-9) ++flipped_or_cropped;
  }
  CHECK(changed >= 10);
  CHECK(flipped_or_cropped >= 3);

  TransformConfig val = detr_val_transforms();
  val.val_size = 45;
  AnnotatedImage v = base;
  apply_transforms(v, val, 0);
  CHECK(v.image.h == 45);
  CHECK(v.image.w == 60);
  CHECK(v.boxes[0] == std::array<double, 4>{5, 5, 30, 25});

  TransformConfig bad = train;
  bad.scales.clear();
  check_throws_with([&] { validate(bad); }, {"TransformConfig", "scales"});
  bad = train;
  bad.crop_min = 60;
  check_throws_with([&] { validate(bad); }, {"crop_min 60", "crop_max 50"});
}

TEST_CASE("to_sample normalises pixels and converts boxes to cxcywh", "[coco_data]") {
  AnnotatedImage a;
  a.image = RgbImage(2, 4);
  uint8_t* p = a.image.at(1, 3);
  p[0] = 255, p[1] = 0, p[2] = 128;
  a.boxes = {{1, 0, 3, 2}};
  a.labels = {4};
  const Sample s = to_sample(a, 42, 20, 40);
  REQUIRE(s.image.size() == 24);
  const size_t plane = 8, at = 1 * 4 + 3;
  // ((255, 0, 128) / 255 - mean) / std
  CHECK(s.image[at] == Approx((1.0 - 0.485) / 0.229).epsilon(1e-5));
  CHECK(s.image[plane + at] == Approx((0.0 - 0.456) / 0.224).epsilon(1e-5));
  CHECK(s.image[2 * plane + at] == Approx((128 / 255.0 - 0.406) / 0.225).epsilon(1e-5));
  CHECK(s.image[0] == Approx(-0.485 / 0.229).epsilon(1e-5));
  REQUIRE(s.boxes.size() == 1);
  CHECK(s.boxes[0] == std::array<float, 4>{0.5f, 0.5f, 0.5f, 1.0f});
  CHECK(s.labels == std::vector<int32_t>{4});
  CHECK(s.image_id == 42);
  CHECK(s.orig_height == 20);
  CHECK(s.orig_width == 40);
}

// ------------------------------------------------------------ dataset

TEST_CASE("DetectionDataset maps categories, drops crowds, handles bad annotations",
          "[coco_data]") {
  const fs::path& root = shared_set();
  TransformConfig val = detr_val_transforms();
  val.val_size = 48;
  val.max_size = 80;
  const auto ds = DetectionDataset::load((root / "images").string(),
                                         (root / "annotations/instances_train.json").string(), val);
  REQUIRE(ds.size() == 10);
  CHECK(ds.num_classes() == 5);
  CHECK(ds.category_ids() == std::vector<int64_t>{1, 2, 3, 5, 7});
  CHECK(ds.label_of(5) == 3);
  CHECK_THROWS_AS(ds.label_of(4), std::invalid_argument);
  for (size_t i = 0; i < ds.size(); ++i) {
    const Sample s = ds.get(i);
    CHECK(s.image_id == ds.dataset().images[i].id);
    CHECK(s.orig_width == ds.dataset().images[i].width);
    CHECK((std::min(s.height, s.width) == 48 || std::max(s.height, s.width) <= 80));
    CHECK(s.image.size() == size_t(3) * s.height * s.width);
    size_t expected = 0;
    for (const auto& a : ds.dataset().annotations) expected += a.image_id == s.image_id;
    CHECK(s.labels.size() == expected);
    for (const auto& b : s.boxes) {
      CHECK(b[0] - b[2] / 2 >= -1e-6f);
      CHECK(b[0] + b[2] / 2 <= 1 + 1e-6f);
      CHECK(b[3] > 0);
    }
  }

  // In-memory set: a crowd box is dropped, a box beyond the image clamped,
  // an unknown category is corrupt.
  TempDir dir;
  write_png((dir.path / "a.png").string(), pattern(20, 30));
  Dataset d;
  d.images = {{1, "a.png", 30, 20}};
  d.categories = {{3, "c3", ""}, {9, "c9", ""}};
  d.annotations = {{1, 1, 9, {2, 2, 5, 5}, 25, false},
                   {2, 1, 3, {0, 0, 30, 20}, 600, true},
                   {3, 1, 3, {20, 10, 40, 40}, 100, false}};
  const DetectionDataset mem(dir.path.string(), d, val, "mem.json");
  const AnnotatedImage a = mem.load_annotated(0);
  REQUIRE(a.boxes.size() == 2);
  CHECK(a.labels == std::vector<int32_t>{1, 0});
  CHECK(a.boxes[1] == std::array<double, 4>{20, 10, 30, 20});

  d.annotations.push_back({4, 1, 4, {1, 1, 2, 2}, 4, false});
  check_runtime_error([&] { DetectionDataset(dir.path.string(), d, val, "mem.json"); },
                      {"mem.json", "annotation id 4", "category_id 4"});
  const DetectionDataset skipped(dir.path.string(), d, val, "mem.json", OnCorrupt::skip);
  CHECK(skipped.load_annotated(0).boxes.size() == 2);

  d.images.push_back({2, "missing.png", 10, 10});
  const DetectionDataset with_missing(dir.path.string(), d, val, "mem.json", OnCorrupt::skip);
  try {
    with_missing.get(1);
    FAIL("expected CorruptSampleError");
  } catch (const CorruptSampleError& e) {
    CHECK(e.file() == (dir.path / "missing.png").string());
    CHECK(std::string(e.what()).find("missing.png") != std::string::npos);
  }
}

// ------------------------------------------------------------ batching

TEST_CASE("collate pads images bottom-right with a mask and buckets targets", "[coco_data]") {
  CHECK(bucket_for(0, {8, 16}) == 8);
  CHECK(bucket_for(9, {8, 16}) == 16);
  CHECK(bucket_for(17, {8, 16}) == 32);
  CHECK(bucket_for(5, {}) == 5);
  check_throws_with([] { bucket_for(1, {8, 4}); }, {"coco::bucket_for", "8, 4"});

  Sample a, b;
  a.height = 2, a.width = 3, a.image.assign(18, 1.f), a.image_id = 7;
  a.labels = {2}, a.boxes = {{0.5f, 0.5f, 0.2f, 0.4f}};
  b.height = 3, b.width = 2, b.image.assign(18, 2.f), b.image_id = 8;
  b.labels = {0, 1, 4};
  b.boxes = {{0.1f, 0.2f, 0.1f, 0.1f}, {0.3f, 0.3f, 0.2f, 0.2f}, {0.9f, 0.9f, 0.1f, 0.1f}};
  const Batch batch = collate({a, b}, {2, 4});
  CHECK(batch.images.shape() == mfx::Shape{2, 3, 3, 3});
  CHECK(batch.mask.shape() == mfx::Shape{2, 3, 3});
  CHECK(batch.mask.dtype() == mfx::bool_);
  const auto img = batch.images.to_vector<float>();
  const auto mask = batch.mask.to_vector<int>();
  // Sample a: rows 0-1 real, row 2 padding; sample b: columns 0-1 real.
  const std::vector<int> expected_mask = {0, 0, 0, 0, 0, 0, 1, 1, 1,  //
                                          0, 0, 1, 0, 0, 1, 0, 0, 1};
  CHECK(mask == expected_mask);
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 9; ++i) {
      CHECK(img[c * 9 + i] == (expected_mask[i] ? 0.f : 1.f));
      CHECK(img[27 + c * 9 + i] == (expected_mask[9 + i] ? 0.f : 2.f));
    }
  }
  CHECK(batch.labels.shape() == mfx::Shape{2, 4});
  CHECK(batch.labels.to_vector<int>() == std::vector<int>{2, 0, 0, 0, 0, 1, 4, 0});
  CHECK(batch.valid.to_vector<int>() == std::vector<int>{1, 0, 0, 0, 1, 1, 1, 0});
  const auto boxes = batch.boxes.to_vector<float>();
  CHECK(boxes.size() == 32);
  CHECK(std::vector<float>(boxes.begin(), boxes.begin() + 8) ==
        std::vector<float>{0.5f, 0.5f, 0.2f, 0.4f, 0.5f, 0.5f, 1.f, 1.f});
  CHECK(std::vector<float>(boxes.begin() + 24, boxes.end()) ==
        std::vector<float>{0.9f, 0.9f, 0.1f, 0.1f, 0.5f, 0.5f, 1.f, 1.f});
  CHECK(batch.image_ids == std::vector<int64_t>{7, 8});
  CHECK(batch.sizes[1] == std::array<int, 2>{3, 2});

  check_throws_with([] { collate({}, {}); }, {"coco::collate", "no samples"});
  Sample broken = a;
  broken.image.pop_back();
  check_throws_with([&] { collate({broken}, {}); }, {"coco::collate", "2x3", "17 values"});

  // Padding to a multiple of 4: 3x3 becomes 4x4, the new row/column is padding.
  const Batch padded = collate({a, b}, {2, 4}, 4);
  CHECK(padded.images.shape() == mfx::Shape{2, 3, 4, 4});
  const auto pmask = padded.mask.to_vector<int>();
  const std::vector<int> expected_pmask = {0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                           0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1};
  CHECK(pmask == expected_pmask);
  const auto pimg = padded.images.to_vector<float>();
  for (int i = 0; i < 16; ++i) CHECK(pimg[i] == (expected_pmask[i] ? 0.f : 1.f));
  CHECK(padded.sizes[0] == std::array<int, 2>{2, 3});
  check_throws_with([&] { collate({a}, {}, 0); }, {"coco::collate", "pad_multiple", "0"});
}

// ------------------------------------------------------------ loader

namespace {

struct Epoch {
  std::vector<int64_t> ids;
  std::vector<std::vector<float>> images;
  std::vector<mfx::Shape> label_shapes;
};

Epoch run_epoch(Loader& loader, int64_t epoch) {
  Epoch e;
  loader.start_epoch(epoch);
  while (auto b = loader.next()) {
    e.ids.insert(e.ids.end(), b->image_ids.begin(), b->image_ids.end());
    e.images.push_back(b->images.to_vector<float>());
    e.label_shapes.push_back(b->labels.shape());
  }
  return e;
}

std::shared_ptr<const DetectionDataset> train_set(const fs::path& root) {
  return std::make_shared<const DetectionDataset>(
      DetectionDataset::load((root / "images").string(),
                             (root / "annotations/instances_train.json").string(), tiny_train()));
}

}  // namespace

TEST_CASE("loader order and contents do not depend on the thread count", "[coco_data]") {
  const auto ds = train_set(shared_set());
  LoaderConfig cfg;
  cfg.batch_size = 3;
  cfg.seed = 5;
  cfg.gt_buckets = {4, 8};
  cfg.prefetch = 2;
  std::vector<Epoch> runs;
  for (int workers : {0, 1, 3}) {
    cfg.num_workers = workers;
    Loader loader(ds, cfg);
    CHECK(loader.batches_per_epoch() == 4);
    runs.push_back(run_epoch(loader, 1));
  }
  for (size_t r = 1; r < runs.size(); ++r) {
    CHECK(runs[r].ids == runs[0].ids);
    CHECK(runs[r].images == runs[0].images);
    CHECK(runs[r].label_shapes == runs[0].label_shapes);
  }
  REQUIRE(runs[0].ids.size() == 10);
  std::vector<int64_t> sorted = runs[0].ids;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  for (const auto& s : runs[0].label_shapes) CHECK((s[1] == 4 || s[1] == 8));

  cfg.num_workers = 2;
  Loader loader(ds, cfg);
  const Epoch e0 = run_epoch(loader, 0), e1 = run_epoch(loader, 1);
  CHECK(e1.ids == runs[0].ids);
  CHECK(e0.ids != e1.ids);  // reshuffled per epoch

  cfg.drop_last = true;
  cfg.shuffle = false;
  Loader dropping(ds, cfg);
  CHECK(dropping.batches_per_epoch() == 3);
  const Epoch d = run_epoch(dropping, 0);
  CHECK(d.ids == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9});

  // Abandoning an epoch midway and destroying a loader with work in flight.
  Loader abandoned(ds, cfg);
  abandoned.start_epoch(0);
  CHECK(abandoned.next().has_value());
  abandoned.start_epoch(1);
  CHECK(abandoned.next()->image_ids == std::vector<int64_t>{1, 2, 3});
  cfg.batch_size = 0;
  check_throws_with([&] { Loader(ds, cfg); }, {"coco::Loader", "batch_size 0"});
}

TEST_CASE("loader skips or rejects a corrupt image", "[coco_data]") {
  TempDir dir;
  fs::copy(shared_set(), dir.path, fs::copy_options::recursive);
  const fs::path victim = dir.path / "images" / "000000000004.jpg";
  const auto bytes = read_bytes(victim);
  write_bytes(victim, std::vector<uint8_t>(bytes.begin(), bytes.begin() + bytes.size() / 3));
  const auto ds = train_set(dir.path);

  LoaderConfig cfg;
  cfg.batch_size = 2;
  cfg.num_workers = 2;
  cfg.shuffle = false;
  Loader skipping(ds, cfg);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const Epoch e = run_epoch(skipping, epoch);
    CHECK(e.ids == std::vector<int64_t>{1, 2, 3, 5, 6, 7, 8, 9, 10});
    CHECK(e.images.size() == 5);  // batch {3, 4} is left with one image
  }

  cfg.batch_size = 1;
  Loader single(ds, cfg);
  CHECK(run_epoch(single, 0).images.size() == 9);  // the batch of the corrupt image is left out

  cfg.on_corrupt = OnCorrupt::reject;
  for (int workers : {0, 2}) {
    cfg.num_workers = workers;
    Loader rejecting(ds, cfg);
    rejecting.start_epoch(0);
    for (int b = 0; b < 3; ++b) CHECK(rejecting.next().has_value());
    try {
      rejecting.next();
      FAIL("expected CorruptSampleError");
    } catch (const CorruptSampleError& e) {
      CHECK(e.file() == victim.string());
      CHECK(std::string(e.what()).find("000000000004.jpg") != std::string::npos);
    }
    CHECK(rejecting.next()->image_ids == std::vector<int64_t>{5});  // the loader goes on
  }
}

// mfx_libfuzz_corpus DIR: writes small seed corpora for the libFuzzer
// targets into DIR/<target>/, every file made by mfx itself (no downloads),
// so the fuzzers start from inputs that pass the readers' checks and mutate
// into the code behind them.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mfx/coco/dataset.h"
#include "mfx/coco/image.h"
#include "mfx/coco/synthetic.h"
#include "mfx/io.h"
#include "mfx/mfx.h"
#include "mfx/train/checkpoint.h"

namespace fs = std::filesystem;
using namespace mfx;

namespace {

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// A w x h test pattern: gradients with a block of flat colour.
coco::RgbImage pattern(int h, int w) {
  coco::RgbImage img(h, w);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      uint8_t* p = img.at(y, x);
      p[0] = static_cast<uint8_t>(x * 255 / std::max(1, w - 1));
      p[1] = static_cast<uint8_t>(y * 255 / std::max(1, h - 1));
      p[2] = (x / 4 + y / 4) % 2 ? 200 : 30;
    }
  }
  return img;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: mfx_libfuzz_corpus DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  for (const char* t :
       {"safetensors", "checkpoint", "coco_instances", "coco_results", "jpeg", "png"}) {
    fs::create_directories(dir / t);
  }

  // safetensors: every dtype, a 0-d, an empty and a 2-d array, metadata;
  // and a tree with nested lists and dicts.
  save_safetensors((dir / "safetensors/dtypes.safetensors").string(),
                   {{"b", array({true, false, true})},
                    {"u8", array({1, 2, 250}, {3}, uint8)},
                    {"i32", array({-1, 0, 7, 9}, {2, 2}, int32)},
                    {"i64", array(int64_t{42})},
                    {"f16", array({0.5, -2.0}, {2}, float16)},
                    {"bf16", array({1.5, 3.0}, {2}, bfloat16)},
                    {"f32", zeros({2, 0, 3}, float32)},
                    {"f64", array({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {3, 2}, float64)}},
                   {{"note", "seed corpus"}});
  save_tree((dir / "safetensors/tree.safetensors").string(),
            Tree{{"layers", Tree(Tree::List{Tree(array({1.0f, 2.0f})), Tree(Tree::List{})})},
                 {"head", Tree{{"w", Tree(array({3.0f}))}}}});

  // A checkpoint as training writes it (then copied under its own name).
  {
    train::Checkpoint ck;
    ck.params = Tree{{"w", Tree(array({0.25f, -0.5f}, {2}))}, {"b", Tree(array(0.0f))}};
    ck.opt_state = Tree{{"count", Tree(array(int64_t{3}))}};
    ck.rng_key = random::key(7);
    ck.epoch = 2;
    ck.step = 17;
    ck.extra = R"({"best_ap":0.25})";
    const fs::path tmp = dir / "checkpoint/tmp";
    const std::string last = train::save_checkpoint(tmp.string(), ck);
    fs::copy_file(last, dir / "checkpoint/last.safetensors", fs::copy_options::overwrite_existing);
    fs::remove_all(tmp);
  }

  // COCO: a tiny synthetic set's instances files and its JPEG images.
  {
    coco::SyntheticConfig cfg;
    cfg.num_train = 2;
    cfg.num_val = 1;
    cfg.min_side = 16;
    cfg.max_side = 24;
    cfg.max_objects = 2;
    cfg.p_large = 0;
    const fs::path tmp = dir / "coco_tmp";
    coco::write_synthetic_coco(tmp.string(), cfg);
    for (const char* split : {"train", "val"}) {
      const std::string name = std::string("instances_") + split + ".json";
      fs::copy_file(tmp / "annotations" / name, dir / "coco_instances" / name,
                    fs::copy_options::overwrite_existing);
    }
    int n = 0;
    for (const auto& e : fs::directory_iterator(tmp / "images")) {
      if (n++ < 2) fs::copy_file(e.path(), dir / "jpeg" / e.path().filename());
    }
    // Results as the evaluator reads them, from the val set's boxes.
    coco::Dataset val = coco::load_instances((tmp / "annotations/instances_val.json").string());
    std::vector<coco::Detection> dets;
    for (const auto& a : val.annotations) dets.push_back({a.image_id, a.category_id, a.bbox, 0.75});
    dets.push_back({1, 1, {0.5, 1.25, 3.0, 4.0}, 1e-7});
    write_bytes(dir / "coco_results/results.json", coco::results_to_json(dets));
    write_bytes(dir / "coco_results/empty.json", std::string("[]"));
    fs::remove_all(tmp);
  }

  // JPEG and PNG of a few sizes (1x1, odd sizes for the chroma subsampling).
  for (auto [h, w] : {std::pair{1, 1}, std::pair{7, 5}, std::pair{16, 16}}) {
    const std::string stem = std::to_string(h) + "x" + std::to_string(w);
    write_bytes(dir / "jpeg" / (stem + ".jpg"), coco::encode_jpeg(pattern(h, w), 75));
    write_bytes(dir / "png" / (stem + ".png"), coco::encode_png(pattern(h, w)));
  }
  std::printf("seed corpora written to %s\n", dir.string().c_str());
  return 0;
}

// Reading and writing COCO detection results JSON.
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "coco/json_fields.h"
#include "io/atomic_file.h"
#include "mfx/coco/dataset.h"

namespace mfx::coco {

using detail::Context;
using detail::json;

std::vector<Detection> parse_results(const std::string& json_text, const std::string& source) {
  Context ctx{"coco::load_results", source, ""};
  json root = detail::parse_json(json_text, ctx.op, source);
  if (!root.is_array()) detail::fail(ctx, "results must be a JSON array of objects");
  std::vector<Detection> dets;
  dets.reserve(root.size());
  for (size_t i = 0; i < root.size(); ++i) {
    ctx.entry = fmt::format("results[{}]", i);
    const json& e = root[i];
    Detection d;
    d.image_id = detail::get_int(e, "image_id", ctx);
    d.category_id = detail::get_int(e, "category_id", ctx);
    d.bbox = detail::get_bbox(e, ctx);
    d.score = detail::get_number(e, "score", ctx);
    dets.push_back(d);
  }
  return dets;
}

std::vector<Detection> load_results(const std::string& path) {
  return parse_results(detail::read_text_file(path, "coco::load_results"), path);
}

std::string results_to_json(const std::vector<Detection>& detections) {
  // ordered_json keeps the conventional key order of COCO result files.
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (size_t i = 0; i < detections.size(); ++i) {
    const Detection& d = detections[i];
    // JSON has no NaN / infinity (nlohmann would write null).
    bool finite = std::isfinite(d.score);
    for (double v : d.bbox) finite = finite && std::isfinite(v);
    if (!finite) {
      throw std::invalid_argument(
          fmt::format("[coco::results_to_json] detection {} has a non-finite bbox or score", i));
    }
    nlohmann::ordered_json e;
    e["image_id"] = d.image_id;
    e["category_id"] = d.category_id;
    e["bbox"] = {d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]};
    e["score"] = d.score;
    out.push_back(std::move(e));
  }
  return out.dump();
}

void save_results(const std::string& path, const std::vector<Detection>& detections) {
  std::string text = results_to_json(detections);
  io::AtomicFile file(path, "coco::save_results");
  file.write(text.data(), text.size());
  file.commit();
}

}  // namespace mfx::coco

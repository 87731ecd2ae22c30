// Reading COCO instances JSON into mfx::coco::Dataset.
#include <fmt/format.h>

#include <unordered_set>

#include "coco/json_fields.h"
#include "mfx/coco/dataset.h"

namespace mfx::coco {

namespace {

using detail::Context;
using detail::json;

const json& array_field(const json& root, const char* name, Context& ctx) {
  ctx.entry.clear();
  const json& v = detail::field(root, name, ctx);
  if (!v.is_array()) detail::fail(ctx, fmt::format("field '{}' must be an array", name));
  return v;
}

// Duplicate ids would make pycocotools silently keep the last entry (and
// double-count its annotations), so they are rejected here.
void check_unique(std::unordered_set<int64_t>& seen, int64_t id, const Context& ctx) {
  if (!seen.insert(id).second) detail::fail(ctx, fmt::format("duplicate id {}", id));
}

}  // namespace

Dataset parse_instances(const std::string& json_text, const std::string& source) {
  Context ctx{"coco::load_instances", source, ""};
  json root = detail::parse_json(json_text, ctx.op, source);
  if (!root.is_object()) detail::fail(ctx, "top level must be an object");
  Dataset ds;

  std::unordered_set<int64_t> image_ids;
  const json& images = array_field(root, "images", ctx);
  ds.images.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    ctx.entry = fmt::format("images[{}]", i);
    const json& e = images[i];
    Image img;
    img.id = detail::get_int(e, "id", ctx);
    img.file_name = detail::get_string_or(e, "file_name", ctx);
    if (e.contains("width")) img.width = detail::get_int(e, "width", ctx);
    if (e.contains("height")) img.height = detail::get_int(e, "height", ctx);
    check_unique(image_ids, img.id, ctx);
    ds.images.push_back(std::move(img));
  }

  std::unordered_set<int64_t> category_ids;
  const json& categories = array_field(root, "categories", ctx);
  ds.categories.reserve(categories.size());
  for (size_t i = 0; i < categories.size(); ++i) {
    ctx.entry = fmt::format("categories[{}]", i);
    const json& e = categories[i];
    Category cat;
    cat.id = detail::get_int(e, "id", ctx);
    cat.name = detail::get_string_or(e, "name", ctx);
    cat.supercategory = detail::get_string_or(e, "supercategory", ctx);
    check_unique(category_ids, cat.id, ctx);
    ds.categories.push_back(std::move(cat));
  }

  std::unordered_set<int64_t> annotation_ids;
  const json& annotations = array_field(root, "annotations", ctx);
  ds.annotations.reserve(annotations.size());
  for (size_t i = 0; i < annotations.size(); ++i) {
    ctx.entry = fmt::format("annotations[{}]", i);
    const json& e = annotations[i];
    Annotation ann;
    ann.id = detail::get_int(e, "id", ctx);
    ann.image_id = detail::get_int(e, "image_id", ctx);
    ann.category_id = detail::get_int(e, "category_id", ctx);
    ann.bbox = detail::get_bbox(e, ctx);
    ann.area = detail::get_number(e, "area", ctx);
    if (e.contains("iscrowd")) {
      const json& c = e["iscrowd"];
      if (c.is_boolean()) {
        ann.iscrowd = c.get<bool>();
      } else {
        ann.iscrowd = detail::get_int(e, "iscrowd", ctx) != 0;
      }
    }
    check_unique(annotation_ids, ann.id, ctx);
    if (!image_ids.count(ann.image_id)) {
      detail::fail(ctx, fmt::format("image_id {} is not in 'images'", ann.image_id));
    }
    ds.annotations.push_back(ann);
  }
  return ds;
}

Dataset load_instances(const std::string& path) {
  return parse_instances(detail::read_text_file(path, "coco::load_instances"), path);
}

}  // namespace mfx::coco

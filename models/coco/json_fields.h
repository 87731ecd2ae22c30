// Typed access to JSON fields for the COCO readers (internal): every failure
// throws std::runtime_error naming the operation, the source file, the entry
// ("annotations[3]") and the field.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "mfx/coco/dataset.h"

namespace mfx::coco::detail {

using json = nlohmann::json;

/// Where a value lives, for error messages.
struct Context {
  std::string op;      // "coco::load_instances"
  std::string source;  // file path or "<string>"
  std::string entry;   // "annotations[3]"
};

[[noreturn]] void fail(const Context& ctx, const std::string& what);

/// Parses `text`; syntax errors name the source and the byte offset.
json parse_json(const std::string& text, const std::string& op, const std::string& source);
/// Whole file as a string; errors name the path.
std::string read_text_file(const std::string& path, const std::string& op);

/// Field `name` of object `obj` (throws when `obj` is not an object or the
/// field is missing).
const json& field(const json& obj, const char* name, const Context& ctx);
int64_t get_int(const json& obj, const char* name, const Context& ctx);
double get_number(const json& obj, const char* name, const Context& ctx);
/// Optional string field: "" when absent.
std::string get_string_or(const json& obj, const char* name, const Context& ctx);
/// "bbox": an array of exactly 4 numbers.
BoxXYWH get_bbox(const json& obj, const Context& ctx);

}  // namespace mfx::coco::detail

#include "coco/json_fields.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace mfx::coco::detail {

void fail(const Context& ctx, const std::string& what) {
  std::string where = ctx.entry.empty() ? "" : ctx.entry + ": ";
  throw std::runtime_error(fmt::format("[{}] {}: {}{}", ctx.op, ctx.source, where, what));
}

json parse_json(const std::string& text, const std::string& op, const std::string& source) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(
        fmt::format("[{}] {}: malformed JSON at byte {}: {}", op, source, e.byte, e.what()));
  } catch (const json::exception& e) {
    // e.g. out_of_range for a number beyond double (1e999).
    throw std::runtime_error(fmt::format("[{}] {}: invalid JSON: {}", op, source, e.what()));
  }
}

std::string read_text_file(const std::string& path, const std::string& op) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw std::runtime_error(fmt::format("[{}] '{}' is a directory, not a file", op, path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("[{}] cannot open '{}' for reading", op, path));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error(fmt::format("[{}] error reading '{}'", op, path));
  return ss.str();
}

const json& field(const json& obj, const char* name, const Context& ctx) {
  if (!obj.is_object()) fail(ctx, fmt::format("expected an object, got {}", obj.type_name()));
  auto it = obj.find(name);
  if (it == obj.end()) fail(ctx, fmt::format("missing field '{}'", name));
  return *it;
}

int64_t get_int(const json& obj, const char* name, const Context& ctx) {
  const json& v = field(obj, name, ctx);
  // An unsigned integer above INT64_MAX would wrap to a negative id.
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    fail(ctx, fmt::format("field '{}' = {} is out of the int64 range", name, v.dump()));
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  fail(ctx, fmt::format("field '{}' must be an integer, got {}", name, v.dump()));
}

double get_number(const json& obj, const char* name, const Context& ctx) {
  const json& v = field(obj, name, ctx);
  if (v.is_number()) return v.get<double>();
  fail(ctx, fmt::format("field '{}' must be a number, got {}", name, v.dump()));
}

std::string get_string_or(const json& obj, const char* name, const Context& ctx) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return {};
  if (!it->is_string()) fail(ctx, fmt::format("field '{}' must be a string", name));
  return it->get<std::string>();
}

BoxXYWH get_bbox(const json& obj, const Context& ctx) {
  const json& v = field(obj, "bbox", ctx);
  if (!v.is_array() || v.size() != 4) {
    fail(ctx, fmt::format("field 'bbox' must be an array of 4 numbers, got {}", v.dump()));
  }
  BoxXYWH box{};
  for (size_t i = 0; i < 4; ++i) {
    if (!v[i].is_number()) {
      fail(ctx, fmt::format("field 'bbox' must be an array of 4 numbers, got {}", v.dump()));
    }
    box[i] = v[i].get<double>();
  }
  return box;
}

}  // namespace mfx::coco::detail

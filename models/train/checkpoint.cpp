// Checkpoint files: one Tree {"params", "opt_state"[, "rng_key"]} saved with
// save_tree, the scalars and the extra JSON in the safetensors metadata.
#include "mfx/train/checkpoint.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "mfx/io.h"
#include "train/content_checksum.h"

namespace mfx::train {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Metadata keys; the format tag lets load_checkpoint reject other files early.
constexpr const char* kFormatKey = "mfx.checkpoint";
constexpr const char* kFormatValue = "1";
constexpr const char* kEpochKey = "mfx.checkpoint.epoch";
constexpr const char* kStepKey = "mfx.checkpoint.step";
constexpr const char* kExtraKey = "mfx.checkpoint.extra";
// Content checksum (train/content_checksum.h), "fnv1a64:<16 hex digits>".
constexpr const char* kChecksumKey = "mfx.checkpoint.checksum";

int64_t parse_int(const std::map<std::string, std::string>& meta, const char* key,
                  const std::string& path) {
  auto it = meta.find(key);
  if (it == meta.end()) {
    throw std::runtime_error(
        fmt::format("[load_checkpoint] {}: metadata '{}' is missing", path, key));
  }
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(it->second, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != it->second.size()) {
    throw std::runtime_error(fmt::format(
        "[load_checkpoint] {}: metadata '{}' = '{}' is not an integer", path, key, it->second));
  }
  return v;
}

}  // namespace

std::string save_checkpoint(const std::string& dir, const Checkpoint& ckpt, bool best,
                            const std::string& also_as) {
  json extra = json::parse(ckpt.extra, nullptr, /*allow_exceptions=*/false);
  if (!extra.is_object()) {
    throw std::invalid_argument(
        fmt::format("[save_checkpoint] extra metadata must be the text of a JSON object, got '{}'",
                    ckpt.extra.size() > 80 ? ckpt.extra.substr(0, 80) + "..." : ckpt.extra));
  }
  Tree tree{{"params", ckpt.params}, {"opt_state", ckpt.opt_state}};
  if (ckpt.rng_key.valid()) tree["rng_key"] = Tree(ckpt.rng_key);
  // Evaluate before touching the directory, so graph errors leave no trace.
  eval(tree);

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("[save_checkpoint] cannot create directory {}: {}", dir, ec.message()));
  }
  std::map<std::string, std::string> meta{{kFormatKey, kFormatValue},
                                          {kEpochKey, std::to_string(ckpt.epoch)},
                                          {kStepKey, std::to_string(ckpt.step)},
                                          {kExtraKey, extra.dump()}};
  meta[kChecksumKey] = detail::format_checksum(detail::content_checksum(tree, meta, kChecksumKey));
  std::string last = (fs::path(dir) / last_checkpoint_file).string();
  save_tree(last, tree, meta);
  if (best) save_tree((fs::path(dir) / best_checkpoint_file).string(), tree, meta);
  if (!also_as.empty()) save_tree((fs::path(dir) / also_as).string(), tree, meta);
  return last;
}

Checkpoint load_checkpoint(const std::string& path) {
  if (!fs::is_regular_file(path)) {
    throw std::runtime_error(fmt::format("[load_checkpoint] {}: no such file", path));
  }
  std::map<std::string, std::string> meta;
  Tree tree = load_tree(path, &meta);
  auto tag = meta.find(kFormatKey);
  if (tag == meta.end() || tag->second != kFormatValue) {
    throw std::runtime_error(fmt::format(
        "[load_checkpoint] {}: not an mfx checkpoint (metadata '{}' is missing or not '{}')", path,
        kFormatKey, kFormatValue));
  }
  // Checkpoints written before the checksum existed have none and still load.
  if (auto sum = meta.find(kChecksumKey); sum != meta.end()) {
    const std::string actual =
        detail::format_checksum(detail::content_checksum(tree, meta, kChecksumKey));
    if (sum->second != actual) {
      throw std::runtime_error(fmt::format(
          "[load_checkpoint] {}: checksum mismatch (stored {}, content {}): the file is corrupt",
          path, sum->second, actual));
    }
  }
  if (!tree.is_dict() || !tree.dict().count("params") || !tree.dict().count("opt_state")) {
    throw std::runtime_error(
        fmt::format("[load_checkpoint] {}: expected entries 'params' and 'opt_state', found {}",
                    path, tree.structure_str()));
  }
  Checkpoint c;
  c.params = tree["params"];
  c.opt_state = tree["opt_state"];
  if (tree.dict().count("rng_key")) {
    const Tree& k = tree["rng_key"];
    if (!k.is_leaf()) {
      throw std::runtime_error(
          fmt::format("[load_checkpoint] {}: 'rng_key' is not a single array", path));
    }
    c.rng_key = k.leaf();
  }
  c.epoch = parse_int(meta, kEpochKey, path);
  c.step = parse_int(meta, kStepKey, path);
  auto extra = meta.find(kExtraKey);
  c.extra = extra == meta.end() ? "{}" : extra->second;
  return c;
}

std::optional<std::string> latest_checkpoint(const std::string& dir) {
  fs::path p = fs::path(dir) / last_checkpoint_file;
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return p.string();
  return std::nullopt;
}

}  // namespace mfx::train

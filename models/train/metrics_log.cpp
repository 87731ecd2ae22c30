// MetricsLog: JSON lines are the record; the CSV is a view of the same rows
// whose header is widened (by rewriting the file) when a new name appears.
#include "mfx/train/metrics_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "io/atomic_file.h"

namespace mfx::train {

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr const char* kJsonl = "metrics.jsonl";
constexpr const char* kCsv = "metrics.csv";

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& columns, const MetricsRow& row) {
  std::string line;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c) line += ',';
    for (auto& [name, value] : row) {
      if (name == columns[c]) {
        line += csv_cell(value.str());
        break;
      }
    }
  }
  return line + "\n";
}

std::string csv_header(const std::vector<std::string>& columns) {
  std::string line;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (c) line += ',';
    line += csv_cell(columns[c]);
  }
  return line + "\n";
}

std::string json_line(const MetricsRow& row) {
  ojson j = ojson::object();
  for (auto& [name, value] : row) {
    if (value.is_int()) {
      j[name] = value.integer();
    } else if (value.is_real()) {
      j[name] = value.number();  // NaN / inf dump as null
    } else {
      j[name] = value.string();
    }
  }
  return j.dump() + "\n";
}

void append_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::app | std::ios::binary);
  f << text;
  f.flush();
  if (!f) throw std::runtime_error(fmt::format("[MetricsLog] cannot append to {}", path));
}

void replace_text(const std::string& path, const std::string& text) {
  io::AtomicFile f(path, "MetricsLog");
  f.write(text.data(), text.size());
  f.commit();
}

}  // namespace

double MetricValue::number() const {
  if (auto* i = std::get_if<int64_t>(&v_)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&v_)) return *d;
  throw std::invalid_argument(
      fmt::format("[MetricValue] '{}' is a string, not a number", std::get<std::string>(v_)));
}

int64_t MetricValue::integer() const {
  if (auto* i = std::get_if<int64_t>(&v_)) return *i;
  throw std::invalid_argument(fmt::format("[MetricValue] {} is not an integer", str()));
}

const std::string& MetricValue::string() const {
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  throw std::invalid_argument(fmt::format("[MetricValue] {} is a number, not a string", str()));
}

std::string MetricValue::str() const {
  if (auto* i = std::get_if<int64_t>(&v_)) return std::to_string(*i);
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  double d = std::get<double>(v_);
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, res.ptr);
}

MetricsLog::MetricsLog(std::string dir) : MetricsLog(std::move(dir), {}) {}

MetricsLog::MetricsLog(std::string dir, std::vector<MetricsRow> rows)
    : dir_(std::move(dir)), rows_(std::move(rows)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw std::runtime_error(
        fmt::format("[MetricsLog] cannot create directory {}: {}", dir_, ec.message()));
  }
  for (auto& row : rows_) {
    for (auto& [name, value] : row) {
      if (std::find(columns_.begin(), columns_.end(), name) == columns_.end()) {
        columns_.push_back(name);
      }
    }
  }
  rewrite_all();
}

MetricsLog MetricsLog::resume(std::string dir, int64_t step) {
  std::vector<MetricsRow> kept;
  std::string jsonl = (fs::path(dir) / kJsonl).string();
  if (fs::exists(jsonl)) {
    for (auto& row : read_metrics(jsonl)) {
      bool after = false;
      for (auto& [name, value] : row) {
        if (name == "step" && value.is_number() && value.number() > static_cast<double>(step)) {
          after = true;
        }
      }
      if (!after) kept.push_back(std::move(row));
    }
  }
  return MetricsLog(std::move(dir), std::move(kept));
}

std::string MetricsLog::jsonl_path() const {
  return (fs::path(dir_) / kJsonl).string();
}
std::string MetricsLog::csv_path() const {
  return (fs::path(dir_) / kCsv).string();
}

void MetricsLog::rewrite_all() {
  std::string text;
  for (auto& row : rows_) text += json_line(row);
  replace_text(jsonl_path(), text);
  rewrite_csv();
}

void MetricsLog::rewrite_csv() {
  std::string text = csv_header(columns_);
  for (auto& row : rows_) text += csv_line(columns_, row);
  replace_text(csv_path(), text);
}

void MetricsLog::log(const MetricsRow& row) {
  if (row.empty()) throw std::invalid_argument("[MetricsLog::log] empty row");
  std::set<std::string> seen;
  bool widened = false;
  for (auto& [name, value] : row) {
    if (name.empty()) throw std::invalid_argument("[MetricsLog::log] empty metric name");
    if (!seen.insert(name).second) {
      throw std::invalid_argument(fmt::format("[MetricsLog::log] metric '{}' given twice", name));
    }
  }
  for (auto& [name, value] : row) {
    if (std::find(columns_.begin(), columns_.end(), name) == columns_.end()) {
      columns_.push_back(name);
      widened = true;
    }
  }
  rows_.push_back(row);
  append_text(jsonl_path(), json_line(row));
  if (widened) {
    rewrite_csv();
  } else {
    append_text(csv_path(), csv_line(columns_, row));
  }
}

std::vector<MetricsRow> read_metrics(const std::string& jsonl_path) {
  std::ifstream f(jsonl_path, std::ios::binary);
  if (!f) throw std::runtime_error(fmt::format("[read_metrics] cannot open {}", jsonl_path));
  std::vector<MetricsRow> rows;
  std::string line;
  for (int64_t lineno = 1; std::getline(f, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto fail = [&](const std::string& why) {
      throw std::runtime_error(fmt::format("[read_metrics] {}:{}: {}", jsonl_path, lineno, why));
    };
    ojson j = ojson::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) fail("not a JSON object");
    MetricsRow row;
    for (auto& [name, v] : j.items()) {
      if (v.is_null()) {
        row.emplace_back(name, std::nan(""));
      } else if (v.is_number_integer()) {
        row.emplace_back(name, v.get<int64_t>());
      } else if (v.is_number()) {
        row.emplace_back(name, v.get<double>());
      } else if (v.is_string()) {
        row.emplace_back(name, v.get<std::string>());
      } else {
        fail(fmt::format("'{}' is a JSON {} (expected a number, string or null)", name,
                         v.type_name()));
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::pair<std::vector<double>, std::vector<double>> metric_series(
    const std::vector<MetricsRow>& rows, const std::string& x_name, const std::string& y_name) {
  std::vector<double> xs, ys;
  for (auto& row : rows) {
    const MetricValue* x = nullptr;
    const MetricValue* y = nullptr;
    for (auto& [name, value] : row) {
      if (name == x_name) x = &value;
      if (name == y_name) y = &value;
    }
    if (x && y && x->is_number() && y->is_number()) {
      xs.push_back(x->number());
      ys.push_back(y->number());
    }
  }
  return {xs, ys};
}

}  // namespace mfx::train

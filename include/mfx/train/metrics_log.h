// Metrics log of a training run: one JSON object per line in metrics.jsonl
// and the same rows in metrics.csv, both flushed after every row so a
// crashed run keeps everything logged so far.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace mfx::train {

/// One logged value: an integer, a real number or a string.
class MetricValue {
 public:
  MetricValue(int v) : v_(static_cast<int64_t>(v)) {}
  MetricValue(long v) : v_(static_cast<int64_t>(v)) {}
  MetricValue(long long v) : v_(static_cast<int64_t>(v)) {}
  MetricValue(float v) : v_(static_cast<double>(v)) {}
  MetricValue(double v) : v_(v) {}
  MetricValue(const char* v) : v_(std::string(v)) {}
  MetricValue(std::string v) : v_(std::move(v)) {}

  bool is_int() const { return std::holds_alternative<int64_t>(v_); }
  bool is_real() const { return std::holds_alternative<double>(v_); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_number() const { return !is_string(); }
  /// The number as a double (integers converted); throws for strings.
  double number() const;
  /// The integer; throws unless is_int().
  int64_t integer() const;
  /// The string; throws for numbers.
  const std::string& string() const;
  /// CSV cell text: integers in decimal, reals in the shortest form that
  /// reads back exactly ("nan", "inf", "-inf" for non-finite ones), strings
  /// as they are.
  std::string str() const;

  bool operator==(const MetricValue&) const = default;

 private:
  std::variant<int64_t, double, std::string> v_;
};

/// A row: (name, value) pairs in the caller's order.
using MetricsRow = std::vector<std::pair<std::string, MetricValue>>;

/// Appends rows to `dir`/metrics.jsonl and `dir`/metrics.csv.
///
/// The CSV columns are the union of all names logged so far, in first-seen
/// order; a row leaves the cells of absent names empty. A name seen for the
/// first time rewrites the CSV (atomically) with the widened header, so the
/// header always describes every row. In JSON, non-finite reals are written
/// as null (JSON has no NaN) and read back as NaN.
class MetricsLog {
 public:
  /// Starts a fresh log in `dir` (created if needed), replacing earlier files.
  explicit MetricsLog(std::string dir);
  /// Continues the log in `dir` after resuming at `step`: rows read from
  /// metrics.jsonl whose "step" value is greater than `step` (logged after
  /// the checkpoint by the interrupted run) are dropped, both files are
  /// rewritten from the rest, and new rows are appended.
  static MetricsLog resume(std::string dir, int64_t step);

  /// Appends one row to both files and flushes them. Throws
  /// std::invalid_argument for an empty row, an empty or repeated name, and
  /// std::runtime_error naming the file on I/O errors.
  void log(const MetricsRow& row);

  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<MetricsRow>& rows() const { return rows_; }
  std::string jsonl_path() const;
  std::string csv_path() const;

 private:
  MetricsLog(std::string dir, std::vector<MetricsRow> rows);
  void rewrite_all();
  void rewrite_csv();
  void append_csv(const MetricsRow& row);
  void append_jsonl(const MetricsRow& row);

  std::string dir_;
  std::vector<std::string> columns_;
  std::vector<MetricsRow> rows_;
};

/// Reads the rows of a metrics.jsonl file (blank lines skipped). Throws
/// std::runtime_error naming the file and line for unreadable files and
/// lines that are not flat JSON objects of numbers, strings and nulls.
std::vector<MetricsRow> read_metrics(const std::string& jsonl_path);

/// (x, y) pairs for plotting: the rows that have numbers under both names,
/// in row order.
std::pair<std::vector<double>, std::vector<double>> metric_series(
    const std::vector<MetricsRow>& rows, const std::string& x_name, const std::string& y_name);

}  // namespace mfx::train

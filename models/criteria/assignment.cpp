// Exact linear assignment by shortest augmenting paths (Jonker-Volgenant
// style, following the formulation in D. F. Crouse, "On implementing 2D
// rectangular assignment algorithms", IEEE TAES 2016).
//
// Rows are added to the matching one at a time. For each new row a Dijkstra
// search over the reduced costs c[i][j] - u[i] - v[j] (non-negative for all
// rows matched so far) finds the cheapest alternating path to a free column;
// the potentials are then updated so reduced costs stay non-negative and are
// zero along the path, and the path is flipped. Only edges out of the new row
// can be negative, which Dijkstra tolerates because every path starts there.
#include "mfx/criteria/assignment.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace mfx::criteria {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string matrix_str(int64_t rows, int64_t cols) {
  return "cost matrix " + shape_str({rows, cols});
}

// Rejects what the problem cannot be posed with; +inf (forbidden pair) is fine.
void validate(const double* c, int64_t rows, int64_t cols, const std::string& where) {
  if (rows < 0 || cols < 0) {
    throw std::invalid_argument(where + "negative size " + shape_str({rows, cols}));
  }
  if (rows > cols) {
    throw std::invalid_argument(where + matrix_str(rows, cols) + " has more rows (" +
                                std::to_string(rows) + ") than columns (" + std::to_string(cols) +
                                "); rows are ground truths and columns queries, pass the "
                                "transpose");
  }
  if (rows > 0 && c == nullptr) {
    throw std::invalid_argument(where + matrix_str(rows, cols) + " has null data");
  }
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      double x = c[i * cols + j];
      if (std::isnan(x) || x == -kInf) {
        throw std::invalid_argument(where + matrix_str(rows, cols) + " contains " +
                                    (std::isnan(x) ? "NaN" : "-inf") + " at (" + std::to_string(i) +
                                    ", " + std::to_string(j) + ")");
      }
    }
  }
}

// Solves a validated problem (rows <= cols).
Assignment solve(const double* c, int64_t rows, int64_t cols, const std::string& where) {
  std::vector<double> u(rows, 0.0), v(cols, 0.0), shortest(cols);
  std::vector<int64_t> col4row(rows, -1), row4col(cols, -1), path(cols, -1), remaining(cols);
  std::vector<int64_t> visited_rows;
  visited_rows.reserve(rows);

  for (int64_t cur = 0; cur < rows; ++cur) {
    std::fill(shortest.begin(), shortest.end(), kInf);
    std::iota(remaining.begin(), remaining.end(), int64_t{0});
    // remaining[0, n_left) are unscanned columns, remaining[n_left, cols) scanned.
    int64_t n_left = cols;
    visited_rows.clear();
    double min_val = 0.0;  // distance of the row being scanned
    int64_t i = cur, sink = -1;
    while (sink < 0) {
      visited_rows.push_back(i);
      const double* ci = c + i * cols;
      const double ui = u[i];
      double lowest = kInf;
      int64_t best = -1;
      for (int64_t p = 0; p < n_left; ++p) {
        int64_t j = remaining[p];
        double r = min_val + ci[j] - ui - v[j];
        if (r < shortest[j]) {
          path[j] = i;
          shortest[j] = r;
        }
        // Among equally short columns a free one ends the search early.
        if (shortest[j] < lowest || (shortest[j] == lowest && row4col[j] < 0)) {
          lowest = shortest[j];
          best = p;
        }
      }
      if (best < 0 || lowest == kInf) {
        throw std::invalid_argument(where + matrix_str(rows, cols) +
                                    " is infeasible: every complete assignment uses a +inf cost");
      }
      min_val = lowest;
      int64_t j = remaining[best];
      if (row4col[j] < 0) {
        sink = j;
      } else {
        i = row4col[j];
      }
      remaining[best] = remaining[--n_left];
      remaining[n_left] = j;
    }

    // Potentials: reduced costs stay >= 0 and become 0 on the path.
    u[cur] += min_val;
    for (size_t k = 1; k < visited_rows.size(); ++k) {
      int64_t r = visited_rows[k];
      u[r] += min_val - shortest[col4row[r]];
    }
    for (int64_t p = n_left; p < cols; ++p) {
      int64_t j = remaining[p];
      v[j] -= min_val - shortest[j];
    }

    // Flip the alternating path ending at the free column `sink`.
    int64_t j = sink;
    while (true) {
      int64_t r = path[j];
      row4col[j] = r;
      std::swap(col4row[r], j);
      if (r == cur) break;
    }
  }

  Assignment out;
  out.rows.reserve(rows);
  out.cols.reserve(rows);
  for (int64_t j = 0; j < cols; ++j) {
    if (row4col[j] < 0) continue;
    out.rows.push_back(row4col[j]);
    out.cols.push_back(j);
    out.cost += c[row4col[j] * cols + j];
  }
  out.row_duals = std::move(u);
  out.col_duals = std::move(v);
  return out;
}

Assignment checked_solve(const double* c, int64_t rows, int64_t cols, const std::string& where) {
  validate(c, rows, cols, where);
  return solve(c, rows, cols, where);
}

void check_floating(const array& cost, const char* op) {
  if (!cost.valid()) throw std::invalid_argument(std::string(op) + " null cost array");
  if (!is_floating(cost.dtype())) {
    throw std::invalid_argument(std::string(op) + " cost matrix must be floating, got " +
                                std::string(dtype_name(cost.dtype())) + " array of shape " +
                                shape_str(cost.shape()));
  }
}

}  // namespace

Assignment linear_sum_assignment(const double* cost, int64_t rows, int64_t cols) {
  return checked_solve(cost, rows, cols, "[linear_sum_assignment] ");
}

Assignment linear_sum_assignment(const array& cost) {
  const char* op = "[linear_sum_assignment]";
  check_floating(cost, op);
  if (cost.ndim() != 2) {
    throw std::invalid_argument(std::string(op) + " expected a 2-d cost matrix, got shape " +
                                shape_str(cost.shape()));
  }
  std::vector<double> values = cost.to_vector<double>();
  return checked_solve(values.data(), cost.shape(0), cost.shape(1), std::string(op) + " ");
}

std::vector<Assignment> batched_linear_sum_assignment(const array& cost,
                                                      const std::vector<int64_t>& valid_rows) {
  const std::string op = "[batched_linear_sum_assignment]";
  check_floating(cost, op.c_str());
  if (cost.ndim() != 3) {
    throw std::invalid_argument(op + " expected a 3-d cost array [B, M, N], got shape " +
                                shape_str(cost.shape()));
  }
  const int64_t batch = cost.shape(0), m = cost.shape(1), n = cost.shape(2);
  if (static_cast<int64_t>(valid_rows.size()) != batch) {
    throw std::invalid_argument(op + " got " + std::to_string(valid_rows.size()) +
                                " valid row counts for cost of shape " + shape_str(cost.shape()));
  }
  for (int64_t b = 0; b < batch; ++b) {
    if (valid_rows[b] < 0 || valid_rows[b] > m) {
      throw std::invalid_argument(op + " image " + std::to_string(b) + ": valid row count " +
                                  std::to_string(valid_rows[b]) + " outside [0, " +
                                  std::to_string(m) + "] for cost of shape " +
                                  shape_str(cost.shape()));
    }
  }
  std::vector<double> values = cost.to_vector<double>();
  std::vector<Assignment> out;
  out.reserve(batch);
  for (int64_t b = 0; b < batch; ++b) {
    // The valid rows of image b are a row-major [valid_rows[b], n] block.
    out.push_back(checked_solve(values.data() + b * m * n, valid_rows[b], n,
                                op + " image " + std::to_string(b) + ": "));
  }
  return out;
}

}  // namespace mfx::criteria

// Exact linear assignment (the Hungarian matching of DETR-style criteria).
//
// Given a cost matrix C with R rows and K columns, R <= K, find the
// assignment of every row to a distinct column with the smallest total cost.
// In detection, rows are the M ground truths of one image and columns the N
// queries: C[M, N] = cost of matching ground truth i with query j. The
// result lists the M pairs sorted by column (query) index ascending, which is
// what scipy.optimize.linear_sum_assignment(C.T) returns (its rows, the
// queries, ascending).
//
// The solver is the shortest augmenting path method (Jonker-Volgenant style,
// as described by Crouse 2016): one Dijkstra search over reduced costs per
// row, O(R^2 K) time, with dual potentials kept feasible throughout, so the
// result carries its own optimality certificate (see Assignment).
//
// Cost values: finite values of any sign and +inf (a forbidden pair) are
// allowed; NaN and -inf are rejected. When every complete assignment uses a
// +inf entry the problem is infeasible and an error is thrown. All errors are
// std::invalid_argument starting with "[linear_sum_assignment]" (or
// "[batched_linear_sum_assignment]") and name the shape, and for bad values
// the (row, col) position.
#pragma once

#include <cstdint>
#include <vector>

#include "mfx/array.h"

namespace mfx::criteria {

/// An optimal assignment of all rows of a [R, K] cost matrix (R <= K).
///
/// Pair p matches row rows[p] (ground truth) with column cols[p] (query);
/// cols is strictly ascending and rows is a permutation of 0..R-1.
///
/// row_duals (u, size R) and col_duals (v, size K) are dual potentials that
/// certify optimality (up to floating-point rounding):
///   u[i] + v[j] <= C[i, j]   for all i, j   (trivially true where C = +inf),
///   v[j] <= 0                for all j, and v[j] == 0 for unassigned columns,
///   u[i] + v[j] == C[i, j]   for every assigned pair,
/// so cost == sum(u) + sum(v), and by LP duality no assignment is cheaper.
struct Assignment {
  std::vector<int64_t> rows;      ///< row (ground-truth) index of each pair
  std::vector<int64_t> cols;      ///< column (query) index of each pair, ascending
  double cost = 0.0;              ///< sum of C[rows[p], cols[p]] over all pairs
  std::vector<double> row_duals;  ///< u, one per row
  std::vector<double> col_duals;  ///< v, one per column
};

/// Solves the assignment problem for a row-major [rows, cols] matrix of
/// doubles at `cost` (rows <= cols; rows == 0 gives an empty assignment of
/// cost 0 and cols zero column duals). `cost` may be null when rows or cols
/// is 0. Throws std::invalid_argument for negative sizes, rows > cols, NaN
/// or -inf entries (naming the position) and infeasible matrices.
Assignment linear_sum_assignment(const double* cost, int64_t rows, int64_t cols);

/// Same for a 2-d floating array [rows, cols] (float16, bfloat16, float32 or
/// float64; computed in double) of any layout: views such as transposes and
/// slices are read as they appear. Evaluates `cost`. Throws
/// std::invalid_argument for a null array, non-2-d shapes and integer or bool
/// dtypes, besides the errors above.
Assignment linear_sum_assignment(const array& cost);

/// One assignment per image for a padded batch of cost matrices [B, M, N]
/// (floating, any layout; evaluated once): image b uses only its first
/// valid_rows[b] rows (its real ground truths), so the padded rows may hold
/// any value, NaN included. Result b has valid_rows[b] pairs sorted by query
/// ascending, rows indexing the image's ground truths. Throws
/// std::invalid_argument when `cost` is not 3-d or not floating, when
/// valid_rows.size() != B, when a count is outside [0, M], and for the
/// per-image errors above (the message names the image).
std::vector<Assignment> batched_linear_sum_assignment(const array& cost,
                                                      const std::vector<int64_t>& valid_rows);

}  // namespace mfx::criteria

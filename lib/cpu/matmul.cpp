// CPU kernel of Matmul: one OpenBLAS gemm per batch element (small elements
// as tasks over the pool, large ones each split over it). Operands whose
// last two axes are a row-major or transposed-row-major layout are passed to
// BLAS in place (CblasNoTrans / CblasTrans); other layouts, and half
// types, are gathered into a small per-matrix scratch buffer.
#include <algorithm>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/gemm.h"
#include "cpu/small_gemm.h"
#include "cpu/strided.h"
#include "primitives/linalg.h"

namespace mfx {

namespace {

using cpu::compute_t;
using cpu::gemm;

// Batch elements up to this many multiply-adds each run as whole products
// on one thread (a 300 x 256 x 32 probe product is 2.5M).
constexpr int64_t kBatchTaskWork = int64_t{1} << 24;

// How BLAS can read a rows x cols matrix with strides (s_r, s_c) in place.
struct BlasView {
  bool direct = false;
  bool trans = false;
  int64_t ld = 0;
};

BlasView blas_view(int64_t rows, int64_t cols, int64_t s_r, int64_t s_c) {
  // A dimension of size one has no meaningful stride.
  if ((cols <= 1 || s_c == 1) && (rows <= 1 || s_r >= std::max<int64_t>(1, cols))) {
    return {true, false, rows <= 1 ? std::max<int64_t>(1, cols) : s_r};
  }
  if ((rows <= 1 || s_r == 1) && (cols <= 1 || s_c >= std::max<int64_t>(1, rows))) {
    return {true, true, cols <= 1 ? std::max<int64_t>(1, rows) : s_c};
  }
  return {};
}

// Row-major copy of a strided matrix, converted to the compute type.
template <typename T, typename C>
void gather(const T* src, int64_t rows, int64_t cols, int64_t s_r, int64_t s_c, C* dst) {
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) dst[i * cols + j] = static_cast<C>(src[i * s_r + j * s_c]);
  }
}

int blas_int(int64_t v) {
  return cpu::blas_int(v, "matmul");
}

// One operand of the batch loop: its batch strides and how BLAS reads it.
struct Operand {
  const array& arr;
  int64_t rows, cols, s_r, s_c;
  Strides batch_strides;
  BlasView view;
};

template <typename T>
void matmul_impl(const array& a, const array& b, array& out) {
  using C = compute_t<T>;
  constexpr bool same = std::is_same_v<T, C>;
  const int nd = out.ndim();
  const int64_t M = out.shape()[nd - 2], N = out.shape()[nd - 1], K = a.shape()[nd - 1];
  out.allocate();
  if (out.size() == 0) return;
  T* o = out.data_ptr<T>();
  if (K == 0) {
    std::fill(o, o + out.size(), T(0));  // an empty sum
    return;
  }
  const Shape bshape(out.shape().begin(), out.shape().end() - 2);
  const int64_t nbatch = out.size() / (M * N);
  auto make = [&](const array& x, int64_t rows, int64_t cols) {
    Operand op{x,
               rows,
               cols,
               x.strides()[nd - 2],
               x.strides()[nd - 1],
               Strides(x.strides().begin(), x.strides().end() - 2),
               {}};
    if (same) op.view = blas_view(rows, cols, op.s_r, op.s_c);
    return op;
  };
  Operand A = make(a, M, K), B = make(b, K, N);

  // x[..., M, K] @ w[K, N] with w shared by every batch element: one gemm
  // over batch * M rows.
  bool b_shared =
      std::all_of(B.batch_strides.begin(), B.batch_strides.end(), [](int64_t s) { return s == 0; });
  if constexpr (same) {
    if (nbatch > 1 && b_shared && a.flags().row_contiguous && B.view.direct) {
      gemm(false, B.view.trans, blas_int(nbatch * M), blas_int(N), blas_int(K), a.data_ptr<T>(),
           blas_int(K), b.data_ptr<T>(), blas_int(B.view.ld), o, blas_int(N));
      return;
    }
  }

  // A batch of small products (attention heads, per-image probes) runs its
  // elements as tasks, each a whole product on one thread: splitting every
  // small product over the pool pays a hand-off per element and runs the BLAS
  // kernels on thin blocks.
  const int64_t element_work = M * N * K;
  // (Not decided by the thread count, so results do not depend on it.)
  const bool element_tasks = nbatch >= 2 && element_work <= kBatchTaskWork &&
                             nbatch * element_work >= cpu::detail::kGemmSplitWork;
  auto run_elements = [&](int64_t i0, int64_t i1) {
    std::vector<C> abuf(A.view.direct ? 0 : M * K), bbuf(B.view.direct ? 0 : K * N);
    std::vector<C> cbuf(same ? 0 : M * N);
    // Consecutive batch elements often share a broadcast operand: gather once.
    int64_t a_prev = -1, b_prev = -1;
    for (int64_t i = i0; i < i1; ++i) {
      auto operand = [&](const Operand& op, std::vector<C>& buf, int64_t& prev, const C*& ptr,
                         bool& trans, int64_t& ld) {
        int64_t loc = cpu::elem_to_loc(i, bshape, op.batch_strides);
        const T* src = op.arr.template data_ptr<T>() + loc;
        if (op.view.direct) {
          ptr = reinterpret_cast<const C*>(src);
          trans = op.view.trans;
          ld = op.view.ld;
          return;
        }
        if (loc != prev) gather(src, op.rows, op.cols, op.s_r, op.s_c, buf.data());
        prev = loc;
        ptr = buf.data();
        trans = false;
        ld = op.cols;
      };
      const C *ap, *bp;
      bool ta, tb;
      int64_t lda, ldb;
      operand(A, abuf, a_prev, ap, ta, lda);
      operand(B, bbuf, b_prev, bp, tb, ldb);
      T* dst = o + i * M * N;
      C* cp = same ? reinterpret_cast<C*>(dst) : cbuf.data();
      [&] {
        if constexpr (std::is_same_v<C, float>) {
          if (element_tasks && !ta && !tb && cpu::small_sgemm_available()) {
            cpu::small_sgemm(blas_int(M), blas_int(N), blas_int(K), ap, blas_int(lda), bp,
                             blas_int(ldb), cp, blas_int(N));
            return;
          }
        }
        if (element_tasks) {
          cpu::gemm_serial(ta, tb, blas_int(M), blas_int(N), blas_int(K), ap, blas_int(lda), bp,
                           blas_int(ldb), cp, blas_int(N));
        } else {
          gemm(ta, tb, blas_int(M), blas_int(N), blas_int(K), ap, blas_int(lda), bp,
               blas_int(ldb), cp, blas_int(N));
        }
      }();
      if constexpr (!same) {
        for (int64_t j = 0; j < M * N; ++j) dst[j] = T(cbuf[j]);
      }
    }
  };
  if (element_tasks) {
    cpu::parallel_for(nbatch, 1, run_elements);
  } else {
    run_elements(0, nbatch);
  }
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& in, std::vector<array>& out) {
  cpu::dispatch_float(in[0].dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    matmul_impl<T>(in[0], in[1], out[0]);
  });
}

bool Matmul::is_equivalent(const Primitive& other) const {
  return dynamic_cast<const Matmul*>(&other) != nullptr;
}

}  // namespace mfx

// Copies and dtype conversions between buffers and strided views (internal).
#pragma once

#include "mfx/array.h"

namespace mfx::cpu {

/// n contiguous elements of `src_dtype` at src -> `dst_dtype` at dst.
void convert_contiguous(const void* src, Dtype src_dtype, void* dst, Dtype dst_dtype, int64_t n);

/// All elements of evaluated `a` in row-major order, converted, into dst.
void copy_to_row_major(const array& a, void* dst, Dtype dst_dtype);

/// Fills the (unallocated) `out` with a row-major converted copy of `in`.
void copy_into(const array& in, array& out);

/// `a` itself if its layout is row-major contiguous, else an evaluated copy.
array row_contiguous(const array& a);

}  // namespace mfx::cpu

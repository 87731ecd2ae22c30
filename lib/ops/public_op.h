// The public op being built on this thread (internal), so that an error
// raised by an op it is made of, or by the size check of a shape it makes,
// names the op the user called: tile is built from reshape and broadcast_to,
// and a bad tile must say "[tile]", not "[reshape]".
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace mfx {

/// Marks `op` as being built for the scope's lifetime. Scopes nest; the
/// outermost one is the op the user called.
class PublicOpScope {
 public:
  explicit PublicOpScope(const char* op);
  ~PublicOpScope();
  PublicOpScope(const PublicOpScope&) = delete;
  PublicOpScope& operator=(const PublicOpScope&) = delete;
  bool outermost() const { return outermost_; }

 private:
  bool outermost_;
};

/// The outermost public op being built on this thread, or nullptr.
const char* current_public_op();

/// `message` with its leading "[inner]" replaced by "[op] (in inner)".
std::string rename_error(const std::string& message, const char* op);

/// Runs f() as public op `op`: std::invalid_argument and std::out_of_range
/// raised inside name `op` (see rename_error). Only the outermost scope
/// renames: zeros is built on full, and a size error that already says
/// "[zeros]" (the size check names the outermost op) must not come out as
/// "[zeros] (in full) (in zeros) ...".
template <class F>
decltype(auto) as_public_op(const char* op, F&& f) {
  PublicOpScope scope(op);
  try {
    return std::forward<F>(f)();
  } catch (const std::out_of_range& e) {
    if (!scope.outermost()) throw;
    throw std::out_of_range(rename_error(e.what(), op));
  } catch (const std::invalid_argument& e) {
    if (!scope.outermost()) throw;
    throw std::invalid_argument(rename_error(e.what(), op));
  }
}

}  // namespace mfx

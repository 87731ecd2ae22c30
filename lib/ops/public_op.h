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

 private:
  bool outermost_;
};

/// The outermost public op being built on this thread, or nullptr.
const char* current_public_op();

/// `message` with its leading "[inner]" replaced by "[op] (in inner)".
std::string rename_error(const std::string& message, const char* op);

/// Runs f() as public op `op`: std::invalid_argument and std::out_of_range
/// raised inside name `op` (see rename_error).
template <class F>
decltype(auto) as_public_op(const char* op, F&& f) {
  PublicOpScope scope(op);
  try {
    return std::forward<F>(f)();
  } catch (const std::out_of_range& e) {
    throw std::out_of_range(rename_error(e.what(), op));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(rename_error(e.what(), op));
  }
}

}  // namespace mfx

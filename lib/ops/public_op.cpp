#include "ops/public_op.h"

namespace mfx {

namespace {
thread_local const char* t_public_op = nullptr;
}

PublicOpScope::PublicOpScope(const char* op) : outermost_(t_public_op == nullptr) {
  if (outermost_) t_public_op = op;
}

PublicOpScope::~PublicOpScope() {
  if (outermost_) t_public_op = nullptr;
}

const char* current_public_op() { return t_public_op; }

std::string rename_error(const std::string& message, const char* op) {
  const std::string prefix = std::string("[") + op + "]";
  if (message.rfind(prefix, 0) == 0) return message;
  const size_t close = message.find(']');
  if (message.empty() || message[0] != '[' || close == std::string::npos) {
    return prefix + " " + message;
  }
  std::string inner = message.substr(1, close - 1);
  std::string rest = message.substr(close + 1);
  if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
  return prefix + " (in " + inner + ") " + rest;
}

}  // namespace mfx

// MFX_EAGER_PROFILE: see eager_profile.h.
#include "eager_profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

namespace mfx::detail {

namespace {

struct Entry {
  double seconds = 0;
  long count = 0;
};

class Profile {
 public:
  void add(const std::string& primitive, const Shape& shape, double seconds) {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& e = entries_[{primitive, shape_str(shape)}];
    e.seconds += seconds;
    ++e.count;
  }

  std::string text(size_t rows) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.empty()) return "";
    double total = 0;
    long ops = 0;
    std::map<std::string, Entry> by_primitive;
    for (const auto& [key, e] : entries_) {
      total += e.seconds;
      ops += e.count;
      by_primitive[key.first].seconds += e.seconds;
      by_primitive[key.first].count += e.count;
    }
    auto largest_first = [](const auto& a, const auto& b) {
      return a.second.seconds > b.second.seconds;
    };
    std::vector<std::pair<std::string, Entry>> kinds(by_primitive.begin(), by_primitive.end());
    std::sort(kinds.begin(), kinds.end(), largest_first);
    std::string out = fmt::format("{} ops, {:.1f} ms\n  by primitive:", ops, total * 1e3);
    for (size_t i = 0; i < std::min<size_t>(10, kinds.size()); ++i) {
      const auto& [name, e] = kinds[i];
      out += fmt::format("{} {} x{} {:.1f} ms ({:.0f} %)", i ? "," : "", name, e.count,
                         e.seconds * 1e3, 100 * e.seconds / total);
    }
    std::vector<std::pair<std::pair<std::string, std::string>, Entry>> pairs(entries_.begin(),
                                                                             entries_.end());
    std::sort(pairs.begin(), pairs.end(), largest_first);
    out += "\n  the costliest (primitive, output shape):\n";
    for (size_t i = 0; i < std::min(rows, pairs.size()); ++i) {
      const auto& [key, e] = pairs[i];
      out += fmt::format("  {:9.3f} ms {:5.1f} %  x{:<6} {:<24} -> {}\n", e.seconds * 1e3,
                         100 * e.seconds / total, e.count, key.first.substr(0, 24), key.second);
    }
    return out;
  }

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

Profile& profile() {
  // Never destroyed: an atexit handler prints the table.
  static Profile* p = [] {
    auto* made = new Profile();
    std::atexit([] {
      if (eager_profile_rows() == 0) return;  // recorded by hand (tests), not asked for
      const std::string text = eager_profile_text(eager_profile_rows());
      if (!text.empty()) std::fprintf(stderr, "[MFX_EAGER_PROFILE] %s", text.c_str());
    });
    return made;
  }();
  return *p;
}

}  // namespace

size_t profile_rows_from_env(const char* variable) {
  const char* v = std::getenv(variable);
  if (!v || !*v || std::string(v) == "0") return 0;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  return (*end == '\0' && n > 1) ? size_t(n) : size_t{20};
}

size_t eager_profile_rows() {
  static const size_t rows = profile_rows_from_env("MFX_EAGER_PROFILE");
  return rows;
}

void eager_profile_add(const std::string& primitive, const Shape& shape, double seconds) {
  profile().add(primitive, shape, seconds);
}

std::string eager_profile_text(size_t rows) {
  return profile().text(rows);
}

}  // namespace mfx::detail

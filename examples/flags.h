// Command-line flags of the example tools: each flag is declared once with
// its value name, default and a one-line description, so --help, the error
// for a bad value and args.json all come from the same table.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace mfx::examples {

/// The whole string as a number (no trailing characters), or nullopt.
template <typename T>
std::optional<T> parse_number(const std::string& s) {
  try {
    size_t used = 0;
    T v;
    if constexpr (std::is_floating_point_v<T>) {
      v = static_cast<T>(std::stod(s, &used));
    } else if constexpr (std::is_unsigned_v<T>) {
      if (!s.empty() && s[0] == '-') return std::nullopt;
      v = static_cast<T>(std::stoull(s, &used));
    } else {
      const long long w = std::stoll(s, &used);
      if (w < static_cast<long long>(std::numeric_limits<T>::min()) ||
          w > static_cast<long long>(std::numeric_limits<T>::max()))
        return std::nullopt;
      v = static_cast<T>(w);
    }
    if (used == s.size() && !s.empty()) return v;
  } catch (const std::logic_error&) {
  }
  return std::nullopt;
}

class Flags {
 public:
  /// `program` and a one-paragraph `summary` head the --help text;
  /// `positional` names trailing arguments ("" when there are none).
  Flags(std::string program, std::string summary, std::string positional = "")
      : program_(std::move(program)), summary_(std::move(summary)),
        positional_(std::move(positional)) {}

  /// Flags declared after this belong to `title` in --help.
  void group(std::string title) { group_ = std::move(title); }

  /// A flag with a value. `set` stores it; it throws std::invalid_argument
  /// (its message is shown) for a value it refuses.
  void add(const std::string& name, const std::string& value_name, const std::string& default_text,
           const std::string& help, std::function<void(const std::string&)> set) {
    flags_.push_back({name, value_name, default_text, help, group_, std::move(set), {}});
  }

  /// A number flag bound to `target`, checked against [lo, hi]. --help
  /// shows `shown` as the default when given (for targets whose initial
  /// value means "decided later"), else the target's value.
  template <typename T>
  void number(const std::string& name, const std::string& value_name, T& target,
              const std::string& help, T lo = std::numeric_limits<T>::lowest(),
              T hi = std::numeric_limits<T>::max(), const char* shown = nullptr) {
    add(name, value_name, shown ? std::string(shown) : fmt::format("{}", target), help,
        [&target, lo, hi](const std::string& v) {
      auto x = parse_number<T>(v);
      if (!x) throw std::invalid_argument(fmt::format("'{}' is not a number", v));
      if (*x < lo || *x > hi) {
        throw std::invalid_argument(
            hi == std::numeric_limits<T>::max()
                ? fmt::format("{} is below the minimum {}", v, lo)
                : fmt::format("{} is outside [{}, {}]", v, lo, hi));
      }
      target = *x;
    });
  }

  /// A string flag bound to `target`; with `choices`, only those.
  void text(const std::string& name, const std::string& value_name, std::string& target,
            const std::string& help, std::vector<std::string> choices = {}) {
    add(name, value_name, target.empty() ? "" : target, help,
        [&target, choices](const std::string& v) {
          if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end()) {
            std::string all;
            for (auto& c : choices) all += (all.empty() ? "" : ", ") + c;
            throw std::invalid_argument(fmt::format("'{}' is not one of {}", v, all));
          }
          target = v;
        });
  }

  /// A flag without a value.
  void on(const std::string& name, const std::string& help, std::function<void()> set) {
    flags_.push_back({name, "", "", help, group_, {}, std::move(set)});
  }

  /// The --help text: usage line, summary, then the flags by group with
  /// their defaults.
  std::string help() const {
    std::string h = fmt::format("usage: {} [flags]{}\n\n{}\n", program_,
                                positional_.empty() ? "" : " " + positional_, summary_);
    std::string current = "\x01";
    for (const auto& f : flags_) {
      if (f.group != current) {
        current = f.group;
        h += "\n" + (current.empty() ? std::string("flags") : current) + ":\n";
      }
      std::string left = f.name + (f.value_name.empty() ? "" : " " + f.value_name);
      std::string right = f.help;
      if (!f.default_text.empty()) right += fmt::format(" (default {})", f.default_text);
      h += left.size() <= 24 ? fmt::format("  {:<24}  ", left) : fmt::format("  {}\n{:28}", left, "");
      h += wrap(right, 72, 28) + "\n";
    }
    h += "  --help                    this text\n";
    return h;
  }

  /// Parses argv. --help / -h prints help() and exits 0; an unknown flag, a
  /// missing or refused value prints "<program>: <flag>: <why>" and exits 2.
  /// Returns the positional arguments (an error when none are declared).
  std::vector<std::string> parse(int argc, char** argv) {
    std::vector<std::string> rest;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (a == "--help" || a == "-h") {
        std::fputs(help().c_str(), stdout);
        std::exit(0);
      }
      const Flag* f = find(a);
      if (!f) {
        if (a.rfind("-", 0) != 0 && !positional_.empty()) {
          rest.push_back(a);
          continue;
        }
        fail(fmt::format("unknown option {}", a));
      }
      if (!f->set) {
        f->set_switch();
        seen_[a] = "true";
        continue;
      }
      if (i + 1 >= argc) fail(fmt::format("{} needs a value ({})", a, f->value_name));
      const std::string v = argv[++i];
      try {
        f->set(v);
      } catch (const std::exception& e) {
        fail(fmt::format("{}: {}", a, e.what()));
      }
      seen_[a] = v;
    }
    return rest;
  }

  /// Exits 2 with "<program>: <message>" and the hint to --help.
  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n(%s --help lists the flags)\n", program_.c_str(),
                 message.c_str(), program_.c_str());
    std::exit(2);
  }

  /// Whether `name` was given on the command line.
  bool given(const std::string& name) const { return seen_.count(name) > 0; }

  /// The flags given on the command line, as written.
  nlohmann::json given_json() const {
    nlohmann::json j = nlohmann::json::object();
    for (auto& [k, v] : seen_) j[k] = v;
    return j;
  }

 private:
  struct Flag {
    std::string name, value_name, default_text, help, group;
    std::function<void(const std::string&)> set;
    std::function<void()> set_switch;
  };
  // `text` in lines of at most `width` characters, later lines indented.
  static std::string wrap(const std::string& text, size_t width, size_t indent) {
    std::string out, line;
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find(' ', start);
      if (end == std::string::npos) end = text.size();
      const std::string word = text.substr(start, end - start);
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        out += line + "\n" + std::string(indent, ' ');
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
      start = end + 1;
    }
    return out + line;
  }

  const Flag* find(const std::string& name) const {
    for (const auto& f : flags_) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  std::string program_, summary_, positional_, group_;
  std::vector<Flag> flags_;
  std::map<std::string, std::string> seen_;
};

}  // namespace mfx::examples

#include "engine/policy/glob.h"

namespace podguard {
namespace {

// Parses the set starting at pattern[i] == '['. On success returns the index
// just past ']' and whether `c` is in the set.
std::optional<std::size_t> match_set(std::string_view pattern, std::size_t i, char c, bool& matched) {
  ++i;  // '['
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool in_set = false;
  bool first = true;
  while (i < pattern.size() && (pattern[i] != ']' || first)) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\') {
      if (++i >= pattern.size()) return std::nullopt;
      lo = pattern[i];
    }
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      if (hi == '\\') {
        if (i + 3 >= pattern.size()) return std::nullopt;
        hi = pattern[i + 3];
        ++i;
      }
      if (hi < lo) return std::nullopt;
      i += 2;
    }
    if (c >= lo && c <= hi) in_set = true;
    ++i;
  }
  if (i >= pattern.size()) return std::nullopt;  // no closing ']'
  matched = in_set != negate;
  return i + 1;
}

}  // namespace

std::optional<std::string> glob_error(std::string_view pattern) {
  if (pattern.empty()) return "empty pattern";
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (i + 1 >= pattern.size()) return "pattern ends with a lone backslash";
      ++i;
    } else if (pattern[i] == '[') {
      bool ignored = false;
      auto end = match_set(pattern, i, 'a', ignored);
      if (!end) return "unterminated or inverted character class in \"" + std::string(pattern) + "\"";
      i = *end - 1;
    }
  }
  return std::nullopt;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // Iterative matcher with single-star backtracking: linear in practice and
  // never recursive, so hostile patterns cannot blow the stack.
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = p++;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        bool matched = false;
        auto end = match_set(pattern, p, text[t], matched);
        if (!end) return false;
        if (matched) {
          p = *end;
          ++t;
          continue;
        }
      } else {
        std::size_t lit = p;
        if (pc == '\\' && p + 1 < pattern.size()) lit = p + 1;
        if (pattern[lit] == text[t]) {
          p = lit + 1;
          ++t;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p + 1;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool glob_match_any(const std::vector<std::string>& patterns, std::string_view text) {
  for (const auto& p : patterns) {
    if (glob_match(p, text)) return true;
  }
  return false;
}

}  // namespace podguard

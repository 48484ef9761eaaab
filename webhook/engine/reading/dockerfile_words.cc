#include "engine/reading/dockerfile_words.h"

#include <algorithm>

namespace podguard {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_'; }

// Deep enough for any real ${A:-${B:-...}}; deeper input is taken as text.
constexpr int kMaxNesting = 32;
// ${VAR#pattern} on longer values or patterns is left alone: the matcher
// below is quadratic.
constexpr std::size_t kMaxPatternInput = 4096;

// Shell pattern match of `*` and `?` (BuildKit turns the pattern into a
// regular expression; brackets are rare enough in Dockerfiles to skip).
bool pattern_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// ${VAR#pat} and ${VAR##pat} (from the start), ${VAR%pat} and ${VAR%%pat}
// (from the end): the shortest or the longest match of the pattern is cut.
std::string remove_pattern(std::string_view pattern, std::string_view value, bool from_start, bool longest) {
  if (value.size() > kMaxPatternInput || pattern.size() > kMaxPatternInput) return std::string(value);
  for (std::size_t k = 0; k <= value.size(); ++k) {
    const std::size_t len = longest ? value.size() - k : k;
    const std::string_view cut = from_start ? value.substr(0, len) : value.substr(value.size() - len);
    if (pattern_match(pattern, cut)) {
      return std::string(from_start ? value.substr(len) : value.substr(0, value.size() - len));
    }
  }
  return std::string(value);
}

class Expander {
 public:
  Expander(std::string_view word, char escape, const VariableScope& scope, std::size_t max_bytes, ExpandedWord& out)
      : w_(word), escape_(escape), scope_(scope), max_(max_bytes), out_(out) {}

  void run() { process(out_.text, 0, 0); }

 private:
  void put(std::string& dst, std::string_view s) {
    if (dst.size() + s.size() > max_) {
      dst.append(s.substr(0, max_ - std::min(max_, dst.size())));
      out_.truncated = true;
      return;
    }
    dst.append(s);
  }
  void put_literal(std::string& dst, char c) {
    out_.literal = true;
    put(dst, std::string_view(&c, 1));
  }

  // Up to the end of the word, or past an unquoted `stop` character.
  // False when `stop` was never found.
  bool process(std::string& dst, char stop, int depth) {
    while (i_ < w_.size()) {
      const char c = w_[i_];
      if (stop != 0 && c == stop) {
        ++i_;
        return true;
      }
      if (c == '\'') {
        single_quoted(dst);
      } else if (c == '"') {
        double_quoted(dst, depth);
      } else if (c == '$') {
        dollar(dst, depth);
      } else {
        ++i_;
        if (c == escape_) {
          if (i_ >= w_.size()) break;  // an escape at the very end is dropped
          put_literal(dst, w_[i_++]);
        } else {
          put_literal(dst, c);
        }
      }
    }
    return stop == 0;
  }

  void single_quoted(std::string& dst) {
    ++i_;
    while (i_ < w_.size() && w_[i_] != '\'') put_literal(dst, w_[i_++]);
    if (i_ < w_.size()) ++i_;
  }

  void double_quoted(std::string& dst, int depth) {
    ++i_;
    while (i_ < w_.size()) {
      const char c = w_[i_];
      if (c == '"') {
        ++i_;
        return;
      }
      if (c == '$') {
        dollar(dst, depth);
        continue;
      }
      ++i_;
      if (c == escape_ && i_ < w_.size() && (w_[i_] == '"' || w_[i_] == '$' || w_[i_] == escape_)) {
        put_literal(dst, w_[i_++]);
        continue;
      }
      if (c == escape_ && i_ >= w_.size()) return;
      put_literal(dst, c);
    }
  }

  std::string_view name() {
    const std::size_t start = i_;
    if (i_ < w_.size() && is_digit(w_[i_])) {
      while (i_ < w_.size() && is_digit(w_[i_])) ++i_;
    } else {
      while (i_ < w_.size() && is_name_char(w_[i_])) ++i_;
    }
    return w_.substr(start, i_ - start);
  }

  void note_unset(std::string_view n) {
    if (std::find(out_.unset.begin(), out_.unset.end(), n) == out_.unset.end()) out_.unset.emplace_back(n);
  }

  std::optional<std::string_view> lookup(std::string_view n) {
    out_.references = true;
    return scope_.value(n);
  }

  // $NAME, ${NAME}: the value, or nothing when it is unset.
  void put_value(std::string& dst, std::string_view n) {
    if (const auto v = lookup(n)) {
      put(dst, *v);
    } else {
      note_unset(n);
    }
  }

  // The rest of the word as text, when it cannot be substituted.
  void rest_as_text(std::string& dst, std::size_t from) {
    for (std::size_t k = from; k < w_.size(); ++k) put_literal(dst, w_[k]);
    i_ = w_.size();
  }

  void dollar(std::string& dst, int depth) {
    const std::size_t start = i_;
    ++i_;  // $
    if (i_ >= w_.size() || w_[i_] != '{') {
      const std::string_view n = name();
      if (n.empty()) {
        put_literal(dst, '$');
        return;
      }
      put_value(dst, n);
      return;
    }
    ++i_;  // {
    const std::string_view n = name();
    if (n.empty() || i_ >= w_.size() || depth >= kMaxNesting) {
      rest_as_text(dst, start);  // ${}, ${:x}, ${ with no end: a build error in Docker
      return;
    }
    char op = w_[i_++];
    if (op == '}') {
      put_value(dst, n);
      return;
    }
    bool colon = false;
    if (op == ':') {
      colon = true;
      if (i_ >= w_.size()) {
        rest_as_text(dst, start);
        return;
      }
      op = w_[i_++];
    }
    if (!(op == '-' || op == '+' || op == '?' || ((op == '#' || op == '%') && !colon))) {
      rest_as_text(dst, start);  // ${VAR/a/b} and other bash forms BuildKit refuses or rarely sees
      return;
    }
    apply_operator(dst, n, op, colon, start, depth);
  }

  // ${NAME-word}, ${NAME:+word}, ${NAME#pattern} and the like, after the
  // operator: `start` is where the $ was, for writing the rest as text.
  void apply_operator(std::string& dst, std::string_view n, char op, bool colon, std::size_t start, int depth) {
    // The word after the operator: its characters and variables count only
    // if it is used.
    const bool literal_before = out_.literal;
    const std::size_t unset_before = out_.unset.size();
    std::string word;
    if (!process(word, '}', depth + 1)) {
      rest_as_text(dst, start);
      return;
    }
    const auto v = lookup(n);
    const bool empty_is_unset = colon && v && v->empty();
    const bool set = v.has_value() && !empty_is_unset;
    auto drop_word = [&] {
      out_.literal = literal_before;
      out_.unset.resize(unset_before);
    };
    switch (op) {
      case '-':
        if (set) {
          drop_word();
          put(dst, *v);
        } else {
          put(dst, word);
        }
        return;
      case '+':
        if (set) {
          put(dst, word);
        } else {
          drop_word();
        }
        return;
      case '?':
        drop_word();
        if (set) {
          put(dst, *v);
        } else {
          note_unset(n);
        }
        return;
      default: {  // # ## % %%
        drop_word();
        if (!v) {
          note_unset(n);
          return;
        }
        std::string_view pattern = word;
        const bool longest = !pattern.empty() && pattern.front() == op;
        if (longest) pattern.remove_prefix(1);
        put(dst, remove_pattern(pattern, *v, op == '#', longest));
        return;
      }
    }
  }

  std::string_view w_;
  char escape_;
  const VariableScope& scope_;
  std::size_t max_;
  ExpandedWord& out_;
  std::size_t i_ = 0;
};

}  // namespace

std::vector<WordSpan> split_words(std::string_view text, char escape) {
  std::vector<WordSpan> words;
  std::size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    if (pos >= text.size()) break;
    WordSpan w{pos, pos};
    char quote = 0;
    while (pos < text.size()) {
      const char ch = text[pos];
      if (quote == 0 && is_space(ch)) break;
      if (quote == 0 && (ch == '\'' || ch == '"')) {
        quote = ch;
      } else if (quote != 0 && ch == quote) {
        quote = 0;
      } else if (ch == escape && quote != '\'') {
        if (pos + 1 == text.size()) {  // an escape at the very end is skipped
          ++pos;
          break;
        }
        ++pos;  // the escaped character stays in the word with its escape
      }
      ++pos;
      w.end = pos;
    }
    if (w.end > w.begin) words.push_back(w);
  }
  return words;
}

ExpandedWord expand_word(std::string_view word, char escape, const VariableScope& scope, std::size_t max_bytes) {
  ExpandedWord out;
  Expander(word, escape, scope, max_bytes, out).run();
  return out;
}

}  // namespace podguard

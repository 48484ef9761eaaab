// Words and variables in Dockerfile arguments, by the rules of BuildKit's
// shell lexer, for the instructions Docker substitutes (FROM, ARG, ENV,
// LABEL, USER, WORKDIR, COPY, ADD, EXPOSE, STOPSIGNAL, VOLUME; not RUN, CMD
// or ENTRYPOINT, which the shell expands at run time):
//
//   'single quotes'   literal
//   "double quotes"   variables expand inside
//   <escape>c         c literally (the escape character is \ or `)
//   $VAR ${VAR}       the variable's value, empty when unset
//   ${VAR:-word}      word when VAR is unset or empty (${VAR-word}: unset)
//   ${VAR:+word}      word when VAR is set and not empty (${VAR+word}: set)
//   ${VAR:?message}   VAR (an error in Docker when it is unset or empty)
//   ${VAR#pat} ${VAR##pat} ${VAR%pat} ${VAR%%pat}  prefix/suffix removal
//
// Pure functions of their arguments; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podguard {

// Where a word is in the text it was split from: [begin, end).
struct WordSpan {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// Splits at blanks outside quotes, keeping quotes and escapes inside the
// words (BuildKit's parseWords, used for ENV, LABEL, ARG and FROM).
std::vector<WordSpan> split_words(std::string_view text, char escape);

// The variables in force where a word is expanded.
class VariableScope {
 public:
  virtual ~VariableScope() = default;
  // The variable's value, or nullopt when it is unset.
  [[nodiscard]] virtual std::optional<std::string_view> value(std::string_view name) const = 0;
};

struct ExpandedWord {
  std::string text;
  // Variables the result depends on that had no value and no default
  // (each once, in order of appearance).
  std::vector<std::string> unset;
  // True when some of the result's characters are written in the word
  // itself (text or a default), not only taken from variables.
  bool literal = false;
  bool references = false;  // the word refers to at least one variable
  bool truncated = false;   // the result hit max_bytes and was cut there
};

// Removes quotes and escapes and substitutes variables, as Docker does for
// one word. `max_bytes` bounds the result (variables can repeat a long
// value many times).
ExpandedWord expand_word(std::string_view word, char escape, const VariableScope& scope,
                         std::size_t max_bytes = 64u << 10);

}  // namespace podguard

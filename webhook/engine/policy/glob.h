// Shell-style patterns for namespaces, names, containers, images and tags:
// `*` matches any run of characters (including `/` and `:`), `?` one
// character, `[abc]`, `[a-z]` and `[!abc]` one character of a set, and `\`
// escapes the next character.
//
// Pure functions; safe from any number of threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace podguard {

// nullopt when the pattern is well formed, else what is wrong with it.
std::optional<std::string> glob_error(std::string_view pattern);

// Whole-string match. A malformed pattern matches nothing.
bool glob_match(std::string_view pattern, std::string_view text);

// True when any pattern matches; an empty list matches nothing.
bool glob_match_any(const std::vector<std::string>& patterns, std::string_view text);

}  // namespace podguard

#include "engine/facts/secret_literals.h"

#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace podguard {
namespace {

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_upper(c) || is_lower(c) || is_digit(c); }

std::vector<std::string> words_of(std::string_view name) {
  std::vector<std::string> words;
  std::string w;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!is_alnum(c)) {
      if (!w.empty()) words.push_back(std::move(w));
      w.clear();
      continue;
    }
    // camelCase humps: dbPassword -> db|Password, APIKey -> API|Key
    const bool hump = !w.empty() && is_upper(c) &&
                      (is_lower(name[i - 1]) || (i + 1 < name.size() && is_lower(name[i + 1]) && is_upper(name[i - 1])));
    if (hump) {
      words.push_back(std::move(w));
      w.clear();
    }
    w += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (!w.empty()) words.push_back(std::move(w));
  return words;
}

bool word_is(const std::string& w, std::string_view base) {
  return w == base || (w.size() == base.size() + 1 && w.back() == 'S' && std::string_view(w).substr(0, base.size()) == base);
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Counts characters from `from` that belong to a token alphabet.
std::size_t run_length(std::string_view s, std::size_t from, bool allow_dash_underscore) {
  std::size_t n = 0;
  while (from + n < s.size()) {
    const char c = s[from + n];
    if (!(is_alnum(c) || (allow_dash_underscore && (c == '-' || c == '_')))) break;
    ++n;
  }
  return n;
}

bool looks_like_jwt(std::string_view v) {
  // header.payload.signature, header and payload base64url JSON ("eyJ").
  const auto pos = v.find("eyJ");
  if (pos == std::string_view::npos) return false;
  std::size_t i = pos;
  int parts = 0;
  while (parts < 3) {
    const std::size_t n = run_length(v, i, true);
    if (n < (parts < 2 ? 10u : 1u)) return false;
    if (parts < 2 && v.substr(i, 3) != "eyJ") return false;
    i += n;
    ++parts;
    if (parts < 3) {
      if (i >= v.size() || v[i] != '.') return false;
      ++i;
    }
  }
  return true;
}

bool looks_like_aws_key_id(std::string_view v) {
  static constexpr std::array<std::string_view, 4> kPrefixes = {"AKIA", "ASIA", "AGPA", "AROA"};
  for (std::size_t i = 0; i + 20 <= v.size(); ++i) {
    if (i > 0 && is_alnum(v[i - 1])) continue;
    bool prefix = false;
    for (auto p : kPrefixes) prefix = prefix || v.substr(i, 4) == p;
    if (!prefix) continue;
    bool body = true;
    for (std::size_t j = i + 4; j < i + 20; ++j) body = body && (is_upper(v[j]) || is_digit(v[j]));
    if (body && (i + 20 == v.size() || !is_alnum(v[i + 20]))) return true;
  }
  return false;
}

struct TokenPrefix {
  std::string_view prefix;
  std::size_t min_tail;
  std::string_view kind;
};

constexpr std::array<TokenPrefix, 17> kTokenPrefixes = {{
    {"ghp_", 30, "a GitHub token"},
    {"gho_", 30, "a GitHub token"},
    {"ghu_", 30, "a GitHub token"},
    {"ghs_", 30, "a GitHub token"},
    {"ghr_", 30, "a GitHub token"},
    {"github_pat_", 30, "a GitHub token"},
    {"glpat-", 20, "a GitLab token"},
    {"xoxb-", 20, "a Slack token"},
    {"xoxp-", 20, "a Slack token"},
    {"xoxa-", 20, "a Slack token"},
    {"sk_live_", 16, "a Stripe secret key"},
    {"rk_live_", 16, "a Stripe secret key"},
    {"AIza", 35, "a Google API key"},
    {"npm_", 30, "an npm token"},
    {"hf_", 30, "a Hugging Face token"},
    {"sk-", 32, "an API secret key"},
    {"SG.", 40, "a SendGrid key"},
}};

}  // namespace

bool secret_like_name(std::string_view name) {
  const auto words = words_of(name);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (word_is(w, "PASSWORD") || word_is(w, "PASSWD") || word_is(w, "SECRET") || word_is(w, "TOKEN") ||
        word_is(w, "APIKEY") || word_is(w, "CREDENTIAL")) {
      return true;
    }
    if (i + 1 < words.size() && word_is(words[i + 1], "KEY") && (w == "API" || w == "PRIVATE" || w == "ACCESS")) {
      return true;
    }
  }
  return false;
}

std::optional<std::string_view> secret_like_value(std::string_view v) {
  if (v.find("-----BEGIN") != std::string_view::npos && v.find("PRIVATE KEY") != std::string_view::npos) {
    return "a PEM private key";
  }
  if (looks_like_aws_key_id(v)) return "an AWS access key id";
  if (looks_like_jwt(v)) return "a JWT";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0 && is_alnum(v[i - 1])) continue;  // tokens start at a word boundary
    for (const TokenPrefix& t : kTokenPrefixes) {
      if (starts_with(v.substr(i), t.prefix) && run_length(v, i + t.prefix.size(), true) >= t.min_tail) {
        return t.kind;
      }
    }
  }
  return std::nullopt;
}

bool names_a_secret_file(std::string_view name, std::string_view value) {
  if (value.empty() || value.front() != '/') return false;
  for (std::string_view suffix : {"_FILE", "_PATH", "_DIR", "_file", "_path", "_dir"}) {
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) return true;
  }
  return false;
}

bool only_variable_references(std::string_view v) {
  if (v.empty()) return false;
  std::size_t i = 0;
  while (i < v.size()) {
    if (v.substr(i, 2) != "$(") return false;
    const auto close = v.find(')', i);
    if (close == std::string_view::npos || close == i + 2) return false;
    i = close + 1;
  }
  return true;
}

}  // namespace podguard

#include "registry/auth_challenge.h"

#include <cctype>
#include <vector>

namespace podguard::registry {
namespace {

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lowercase(std::string_view s) {
  std::string out;
  for (char c : s) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads the header left to right: a scheme starts a challenge, name=value
// pairs belong to the challenge before them.
class ChallengeReader {
 public:
  explicit ChallengeReader(std::string_view s) : s_(s) {}

  struct Parsed {
    std::string scheme;                                       // lowercase
    std::vector<std::pair<std::string, std::string>> params;  // names lowercase
  };

  std::optional<std::vector<Parsed>> read() {
    std::vector<Parsed> out;
    while (true) {
      skip_separators();
      if (at_end()) return out;
      std::string word = token();
      if (word.empty()) return std::nullopt;
      skip_spaces();
      if (!at_end() && peek() == '=' && !out.empty()) {
        ++i_;
        skip_spaces();
        std::optional<std::string> value = at_end() || peek() != '"' ? std::optional(token()) : quoted();
        if (!value) return std::nullopt;
        out.back().params.emplace_back(lowercase(word), std::move(*value));
      } else {
        out.push_back({lowercase(word), {}});
        // token68 (e.g. "Negotiate abc==") is not used by registries: skip it.
      }
    }
  }

 private:
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return s_[i_]; }
  void skip_spaces() {
    while (!at_end() && (peek() == ' ' || peek() == '\t')) ++i_;
  }
  void skip_separators() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == ',')) ++i_;
  }
  std::string token() {
    const std::size_t start = i_;
    while (!at_end() && token_char(peek())) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  std::optional<std::string> quoted() {
    ++i_;  // the opening quote
    std::string out;
    while (!at_end()) {
      const char c = s_[i_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (at_end()) return std::nullopt;
        out += s_[i_++];
      } else {
        out += c;
      }
    }
    return std::nullopt;  // unterminated
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace

std::optional<AuthChallenge> parse_www_authenticate(std::string_view header) {
  const auto challenges = ChallengeReader(header).read();
  if (!challenges) return std::nullopt;
  std::optional<AuthChallenge> basic;
  for (const auto& c : *challenges) {
    if (c.scheme != "bearer" && c.scheme != "basic") continue;
    AuthChallenge out;
    out.scheme = c.scheme == "bearer" ? AuthChallenge::Scheme::kBearer : AuthChallenge::Scheme::kBasic;
    for (const auto& [name, value] : c.params) {
      if (name == "realm") out.realm = value;
      if (name == "service") out.service = value;
      if (name == "scope") out.scope = value;
    }
    if (out.scheme == AuthChallenge::Scheme::kBearer) {
      if (out.realm.empty()) continue;  // nowhere to ask for a token
      return out;
    }
    if (!basic) basic = std::move(out);
  }
  return basic;
}

}  // namespace podguard::registry

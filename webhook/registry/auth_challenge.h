// The WWW-Authenticate challenge a registry answers 401 with (RFC 7235, and
// the distribution token spec for Bearer):
//
//   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"
//   Basic realm="Registry Realm"
//
// A pure parser; the result is a plain value.
//
// Pure functions over header text; safe from any number of threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podguard::registry {

struct AuthChallenge {
  enum class Scheme { kBasic, kBearer };
  Scheme scheme = Scheme::kBearer;
  std::string realm;    // for Bearer: the token service's URL
  std::string service;  // for Bearer: passed back to the token service
  std::string scope;    // for Bearer: what the request needs, e.g. repository:app:pull
};

// The Bearer challenge when the header holds one, else the Basic one;
// nullopt when it holds neither (or cannot be read). Scheme and parameter
// names are case-insensitive; values may be quoted, with \-escapes.
std::optional<AuthChallenge> parse_www_authenticate(std::string_view header);

}  // namespace podguard::registry

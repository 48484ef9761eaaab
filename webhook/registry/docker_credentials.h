// Registry credentials from a docker config.json: the file `docker login`
// writes, and the content of a kubernetes.io/dockerconfigjson Secret (the
// older kubernetes.io/dockercfg shape, the auths map alone, is read too).
//
//   {"auths": {"ghcr.io": {"auth": "<base64 user:password>"},
//              "https://index.docker.io/v1/": {"username": "u", "password": "p"},
//              "registry.example.com/team": {"identitytoken": "<refresh token>"}}}
//
// Keys are matched the way the kubelet matches them: scheme and a trailing
// /v1/ or /v2/ ignored, index.docker.io and registry-1.docker.io are
// docker.io, a leading "*." matches one DNS label, and a key with a path
// applies to repositories below it (the longest match wins).
// credsStore and credHelpers name programs podguard does not run: ignored.
//
// Nothing here ever prints a credential: parse errors name the key, never
// the value. Immutable after parse(); safe to share between threads.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace podguard::registry {

struct RegistryCredential {
  std::string username;  // with password: Basic auth, and the token service's login
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token for the token service
  std::string registry_token;  // a Bearer token sent as is

  [[nodiscard]] bool has_login() const { return !username.empty() || !password.empty(); }
};

class DockerCredentials {
 public:
  DockerCredentials() = default;

  // Reads config.json text. A value of the wrong type or an `auth` that is
  // not base64 of user:password is an invalid-input Status naming the key.
  static Result<DockerCredentials> parse(std::string_view config_json);

  // The credential for `repository` (e.g. "acme/api") on `registry`
  // (host[:port] as in an image reference, docker.io for Docker Hub), or
  // nullptr when none applies.
  [[nodiscard]] const RegistryCredential* find(std::string_view registry, std::string_view repository) const;

  // Adds the entries of `other` after this one's (this one's win ties).
  void merge(const DockerCredentials& other);

  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string host;  // lowercase; may start with "*."
    std::string path;  // repository prefix; empty for the whole registry
    RegistryCredential credential;
  };
  std::vector<Entry> entries_;
};

// docker.io for Docker Hub's other names, otherwise the host as given (lowercase).
std::string canonical_registry_host(std::string_view host);

}  // namespace podguard::registry

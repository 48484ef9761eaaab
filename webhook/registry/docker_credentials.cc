#include "registry/docker_credentials.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

namespace podguard::registry {
namespace {

using nlohmann::json;

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Standard base64 (with or without padding); nullopt when it is not.
std::optional<std::string> decode_base64(std::string_view in) {
  std::string text(in);
  text.erase(std::remove_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == ' '; }),
             text.end());
  while (text.size() % 4 != 0) text += '=';
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (auto it = text.rbegin(); it != text.rend() && *it == '=' && size > 0; ++it) --size;
  out.resize(size);
  return out;
}

// "https://index.docker.io/v1/" -> {"docker.io", ""}; "reg.example.com/team/" -> {"reg.example.com", "team"}.
std::pair<std::string, std::string> split_key(std::string_view key) {
  for (std::string_view scheme : {"https://", "http://"}) {
    if (key.substr(0, scheme.size()) == scheme) key.remove_prefix(scheme.size());
  }
  const auto slash = key.find('/');
  std::string host = canonical_registry_host(key.substr(0, slash));
  std::string_view path = slash == std::string_view::npos ? std::string_view() : key.substr(slash + 1);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path == "v1" || path == "v2") path = {};
  return {std::move(host), std::string(path)};
}

bool host_matches(std::string_view pattern, std::string_view host) {
  if (pattern.substr(0, 2) != "*.") return pattern == host;
  // "*.example.com" matches "a.example.com", not "a.b.example.com" nor "example.com".
  const std::string_view suffix = pattern.substr(1);
  if (host.size() <= suffix.size() || host.substr(host.size() - suffix.size()) != suffix) return false;
  return host.substr(0, host.size() - suffix.size()).find('.') == std::string_view::npos;
}

bool path_matches(std::string_view prefix, std::string_view repository) {
  if (prefix.empty()) return true;
  if (repository.substr(0, prefix.size()) != prefix) return false;
  return repository.size() == prefix.size() || repository[prefix.size()] == '/';
}

Status read_string(const json& entry, const char* name, std::string& out, const std::string& key) {
  const auto it = entry.find(name);
  if (it == entry.end() || it->is_null()) return Status();
  if (!it->is_string()) return Status::invalid_input(std::string(name) + " is not a string").with_key("auths." + key);
  out = it->get<std::string>();
  return Status();
}

}  // namespace

std::string canonical_registry_host(std::string_view host) {
  std::string h = lowercase(host);
  if (h == "index.docker.io" || h == "registry-1.docker.io" || h == "registry.hub.docker.com") return "docker.io";
  return h;
}

Result<DockerCredentials> DockerCredentials::parse(std::string_view config_json) {
  json doc;
  try {
    doc = json::parse(config_json);
  } catch (const json::parse_error& e) {
    // The offset only: the text is full of secrets.
    return Status::invalid_input("the docker config is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
  if (!doc.is_object()) return Status::invalid_input("the docker config is not a JSON object");
  // config.json keeps registries under "auths"; the older .dockercfg is the map alone.
  const json* auths = &doc;
  if (const auto it = doc.find("auths"); it != doc.end()) {
    if (!it->is_object()) return Status::invalid_input("is not an object").with_key("auths");
    auths = &*it;
  } else {
    // Without "auths" the file is either .dockercfg (every value a
    // registry's entry) or a config.json that holds no logins.
    const bool dockercfg = std::all_of(doc.begin(), doc.end(), [](const json& v) { return v.is_object(); });
    if (!dockercfg) return DockerCredentials();
  }
  DockerCredentials out;
  for (const auto& [key, entry] : auths->items()) {
    if (!entry.is_object()) return Status::invalid_input("is not an object").with_key("auths." + key);
    Entry e;
    std::tie(e.host, e.path) = split_key(key);
    if (e.host.empty()) return Status::invalid_input("names no registry").with_key("auths." + key);
    RegistryCredential& c = e.credential;
    for (auto [name, field] :
         {std::pair{"username", &c.username}, std::pair{"password", &c.password},
          std::pair{"identitytoken", &c.identity_token}, std::pair{"registrytoken", &c.registry_token}}) {
      if (Status s = read_string(entry, name, *field, key); !s.ok()) return s;
    }
    std::string auth;
    if (Status s = read_string(entry, "auth", auth, key); !s.ok()) return s;
    if (!auth.empty()) {
      const std::optional<std::string> decoded = decode_base64(auth);
      const auto colon = decoded ? decoded->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return Status::invalid_input("auth is not base64 of user:password").with_key("auths." + key);
      }
      c.username = decoded->substr(0, colon);
      c.password = decoded->substr(colon + 1);
    }
    if (!c.has_login() && c.identity_token.empty() && c.registry_token.empty()) continue;
    out.entries_.push_back(std::move(e));
  }
  return out;
}

const RegistryCredential* DockerCredentials::find(std::string_view registry, std::string_view repository) const {
  const std::string host = canonical_registry_host(registry);
  const Entry* best = nullptr;
  for (const Entry& e : entries_) {
    if (!host_matches(e.host, host) || !path_matches(e.path, repository)) continue;
    // Exact hosts before wildcards, then the longest path; ties keep the first.
    const auto rank = [](const Entry& x) { return std::pair{x.host.substr(0, 2) != "*.", x.path.size()}; };
    if (best == nullptr || rank(e) > rank(*best)) best = &e;
  }
  return best == nullptr ? nullptr : &best->credential;
}

void DockerCredentials::merge(const DockerCredentials& other) {
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
}

}  // namespace podguard::registry

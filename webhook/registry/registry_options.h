// How podguard talks to image registries: the `images:` block of the config
// (DESIGN.md, "Images: the other half of the contract") less `lookup` and
// `onError`, which are the caller's business, plus a few knobs of the
// client itself. A plain value; ImageLookup::create and RegistryClient::create
// check it and say what is wrong.
//
// Plain option values; copy them freely.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace podguard::registry {

struct RegistryCacheOptions {
  // How long a tag's digest is trusted before the registry is asked again,
  // in seconds. 0: tags are resolved on every lookup. Default 300.
  int tag_ttl_seconds = 300;
  // How long a failed lookup is answered from the cache (same Status) before
  // the registry is asked again, in seconds. 0: failures are not cached.
  // Default 30.
  int error_ttl_seconds = 30;
  // Entries kept in each cache (images by digest, configs by digest, tags,
  // failures); the least recently used go first. Default 10000.
  std::size_t max_entries = 10000;
};

struct RegistryOptions {
  // The budget, in seconds: lookup_all and lookup_async answer within it
  // (images not done by then are deadline-exceeded), and no single image's
  // fetch runs longer, Retry-After waits included. Default 2.
  double timeout_seconds = 2;
  // Which entries of a multi-platform index to judge, as os/arch[/variant]
  // (linux/amd64, linux/arm64/v8). Empty: every platform the index offers.
  // Default [linux/amd64].
  std::vector<std::string> platforms = {"linux/amd64"};
  // Path of a docker config.json with registry logins (a mounted
  // kubernetes.io/dockerconfigjson Secret). Empty: none. Read once, at
  // create(); an unreadable or malformed file is an error then.
  std::string credentials_file;
  // The same content given inline (e.g. read from a Secret by the caller).
  // Empty: none. Entries here win over credentials_file's.
  std::string credentials_json;
  // PEM file of extra CA certificates trusted for registries and token
  // services, on top of the system's. Empty: the system's only.
  std::string ca_file;
  // Registries (host[:port], as in image references) spoken to over plain
  // HTTP. Also allows plain HTTP for their token service and redirects.
  // Anything else is HTTPS with verified certificates. Default none.
  std::vector<std::string> insecure_registries;
  // Registry -> mirror that answers for it, host[:port][/path-prefix]:
  // {docker.io: mirror.example.com} sends docker.io lookups to the mirror
  // only (nothing goes to docker.io: air-gapped clusters). Keys as in image
  // references (docker.io for Docker Hub). Default none.
  std::map<std::string, std::string> mirrors;
  RegistryCacheOptions cache;

  // Not in the config file:
  // Threads fetching from registries; lookups beyond them wait. Default 8.
  int workers = 8;
  // Fetches waiting for a thread beyond which new ones fail at once as
  // unavailable instead of queueing. Default 1000.
  std::size_t max_queued = 1000;
  // Receives one line per HTTP exchange and per retry, for debug logs
  // (method, URL without query, status, time). Never holds credentials.
  // Called from worker threads; must be thread-safe. Default: none.
  std::function<void(std::string_view line)> log;
};

}  // namespace podguard::registry

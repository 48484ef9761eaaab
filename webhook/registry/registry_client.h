// The parts of the OCI distribution API podguard needs, without caching: a
// manifest or index by tag or digest, the digest a tag points to, and an
// image's config blob (never a layer). ImageLookup (image_lookup.h) builds
// the image facts, caches and budget on top of it; use that unless you want
// one request's worth.
//
// It speaks HTTPS with verified certificates (system CAs plus caFile), and
// plain HTTP only to insecureRegistries; sends lookups for a mirrored
// registry to its mirror; authenticates with the anonymous Bearer token flow
// (WWW-Authenticate realm/service/scope), or Basic and Bearer with the
// logins of a docker config.json; follows redirects itself and sends no
// Authorization to another host (blob downloads are often redirected to
// storage with a signed URL); on 429 waits for Retry-After when it fits the
// deadline; checks the digest of all it fetches. Every request ends by its
// deadline, even against a server that stops sending mid-answer.
//
// Failures are Statuses whose messages name the registry and the reason:
// not-found (the registry says there is no such manifest), permission-denied
// (a login missing or refused), unavailable (refused, 5xx, 429, TLS),
// deadline-exceeded, invalid-input (what came back is not a manifest or
// config, or not what its digest says). Messages and log lines never hold a
// credential, a token or a redirect's query string.
//
// Thread-safe: one client serves any number of threads; connections and
// tokens are shared between them.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "engine/base/status.h"
#include "engine/facts/image_reference.h"
#include "engine/reading/image_config.h"
#include "engine/reading/image_manifest.h"
#include "registry/registry_options.h"

namespace podguard::registry {

using Deadline = std::chrono::steady_clock::time_point;

struct FetchedManifest {
  // sha256 of the bytes received (or the algorithm of the digest asked
  // for); equal to the digest asked for, and to the registry's
  // Docker-Content-Digest when it sent one.
  std::string digest;
  ImageManifest manifest;
};

// Manifests larger than this are refused (distribution's own limit).
inline constexpr std::size_t kMaxManifestBytes = 4 << 20;
// Config blobs larger than this are refused.
inline constexpr std::size_t kMaxConfigBytes = 8 << 20;

class RegistryClient {
 public:
  // Checks the options (CA file, credentials, mirrors) and says what is wrong.
  static Result<std::unique_ptr<RegistryClient>> create(const RegistryOptions& options);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  // GET /v2/<repository>/manifests/<tag or digest> with the Accept list of
  // media_type::kManifestAccept.
  Result<FetchedManifest> fetch_manifest(const ImageReference& ref, std::string_view tag_or_digest, Deadline deadline);
  // HEAD of a tag's manifest: the digest it points to now, or "" when the
  // registry sends no Docker-Content-Digest (then GET it).
  Result<std::string> manifest_digest(const ImageReference& ref, std::string_view tag, Deadline deadline);
  // GET /v2/<repository>/blobs/<digest>, checked against the digest and parsed.
  Result<ImageConfig> fetch_config(const ImageReference& ref, std::string_view digest, Deadline deadline);

  // How messages name the registry `registry` (host[:port] of a reference):
  // "ghcr.io", or "mirror.example.com (mirror of docker.io)".
  [[nodiscard]] std::string describe(std::string_view registry) const;

  // Cuts off the requests in flight, ends Retry-After waits and makes new
  // requests fail, all as unavailable; for shutting down. Irreversible.
  void shut_down();

 private:
  struct Impl;
  explicit RegistryClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace podguard::registry

// Image manifests and indexes as registries serve them (the OCI distribution
// API): a Docker v2 schema 2 manifest or manifest list, an OCI image
// manifest or index. parse_image_manifest reads one into plain values, and
// select_platforms picks the entries of an index to judge, leaving out the
// attestation entries that BuildKit adds (platform unknown/unknown, or the
// annotation vnd.docker.reference.type: attestation-manifest).
//
// Pure functions over text: no network, no files. The results are plain
// values, safe to share between threads once built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace podguard {

namespace media_type {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
// What a registry is asked for when a manifest is fetched: the four kinds
// parse_image_manifest reads, as one Accept header value.
inline constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
}  // namespace media_type

// os/architecture[/variant], e.g. linux/amd64, linux/arm64/v8, linux/arm/v7.
struct ImagePlatform {
  std::string os;
  std::string architecture;
  std::string variant;  // empty when none is given

  // "linux/arm64/v8"; the variant only when there is one.
  [[nodiscard]] std::string to_string() const;
  bool operator==(const ImagePlatform&) const = default;
};

// Reads "os/architecture[/variant]". Lowercase letters, digits, '_', '-'
// and '.' in each part.
Result<ImagePlatform> parse_platform(std::string_view text);

// Whether an image built for `offered` is one for `wanted`, the way
// container runtimes match platforms: os and architecture equal; a wanted
// variant must be equal too (arm64's variant defaults to v8, so linux/arm64
// and linux/arm64/v8 are one platform); no wanted variant takes any.
bool platform_matches(const ImagePlatform& wanted, const ImagePlatform& offered);

// Why `digest` is not algorithm:hex as the OCI spec allows (sha256 with 64
// lowercase hex digits, sha512 with 128); empty when it is. Digests go into
// request paths, so nothing else is let through.
std::string digest_problem(std::string_view digest);

// A reference from a manifest to another blob or manifest.
struct ImageDescriptor {
  std::string media_type;
  std::string digest;                     // checked with digest_problem
  std::int64_t size = -1;                 // bytes; -1 when not given
  std::optional<ImagePlatform> platform;  // index entries only
  // An index entry that is not an image to run: an attestation (provenance,
  // SBOM) attached by BuildKit. Never selected.
  bool attestation = false;
};

struct ImageManifest {
  enum class Kind { kImage, kIndex };
  Kind kind = Kind::kImage;
  // The media type the manifest declares, else the one it was served with,
  // else the OCI type its shape says.
  std::string media_type;

  // kImage: the config blob and how many layers there are (never fetched).
  ImageDescriptor config;
  std::size_t layer_count = 0;
  // kIndex: one entry per manifest, in the order of the document.
  std::vector<ImageDescriptor> manifests;

  [[nodiscard]] bool is_index() const { return kind == Kind::kIndex; }
  // Whether the config is a container image config (OCI or Docker), not a
  // Helm chart, a signature or another artifact stored in a registry.
  [[nodiscard]] bool has_image_config() const;
};

// Parses a manifest or an index. `content_type` is the Content-Type the
// registry sent (empty when unknown); the document's own mediaType wins.
// Schema 1 manifests, unknown media types and malformed documents are
// invalid-input Statuses whose messages quote no content.
Result<ImageManifest> parse_image_manifest(std::string_view text, std::string_view content_type = {});

// The platforms an index offers, attestation entries left out, in document
// order and without repeats.
std::vector<ImagePlatform> offered_platforms(const ImageManifest& index);

// For each wanted platform in turn, the first index entry that matches it
// (attestations never do); wanted platforms the index lacks are skipped and
// an entry is returned once even when several wanted platforms match it.
std::vector<const ImageDescriptor*> select_platforms(const ImageManifest& index,
                                                     const std::vector<ImagePlatform>& wanted);

}  // namespace podguard

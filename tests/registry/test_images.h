// Test images as a registry stores them: config blobs, layer blobs,
// manifests and indexes, built here so each test states what it pushes.
// The same Push goes to the in-process fake registry and to Debian's
// docker-registry (through the push API), so both are judged alike.
#pragma once

#include <openssl/evp.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/reading/image_manifest.h"

namespace podguard::testing {

inline std::string sha256(std::string_view data) {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), hash, &size, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[hash[i] >> 4];
    out += kHex[hash[i] & 15];
  }
  return out;
}

struct Blob {
  std::string digest;
  std::string content;
  std::string media_type;
};

inline Blob blob(std::string content, std::string media_type) {
  return Blob{sha256(content), std::move(content), std::move(media_type)};
}

// What the config of a test image says.
struct ConfigSpec {
  std::string os = "linux";
  std::string architecture = "amd64";
  std::string variant;
  std::optional<std::string> user;  // nullopt: no User key at all
  std::vector<std::string> env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::string> history;                     // created_by of each step
  std::optional<std::vector<std::string>> healthcheck;  // Test; nullopt: none
  std::vector<std::string> entrypoint = {"/app/server"};
};

// An image config that breaks no image rule: numeric non-root USER,
// HEALTHCHECK, the OCI source/revision/version labels. `id` goes into a
// label, so that images pushed with different ids have different configs
// (and digests): each a fetch of its own.
inline ConfigSpec passing_image(const std::string& id = "") {
  ConfigSpec s;
  s.user = "1001:1001";
  s.healthcheck = std::vector<std::string>{"CMD", "/app/server", "healthcheck"};
  s.labels = {{"org.opencontainers.image.source", "https://github.com/acme/api"},
              {"org.opencontainers.image.revision", "3f9c2ab"},
              {"org.opencontainers.image.version", "1.4.2"}};
  if (!id.empty()) s.labels.emplace_back("io.podguard.bench", id);
  return s;
}

// A config blob shaped like Docker's and BuildKit's (Docker's extra keys included).
inline Blob config_blob(const ConfigSpec& spec, bool oci = false) {
  nlohmann::ordered_json config = {{"Env", spec.env},
                                   {"Entrypoint", spec.entrypoint},
                                   {"Cmd", nullptr},
                                   {"WorkingDir", "/app"},
                                   {"OnBuild", nullptr}};
  if (spec.user) config["User"] = *spec.user;
  if (!spec.labels.empty()) {
    nlohmann::ordered_json labels = nlohmann::ordered_json::object();
    for (const auto& [k, v] : spec.labels) labels[k] = v;
    config["Labels"] = labels;
  } else {
    config["Labels"] = nullptr;
  }
  if (spec.healthcheck) {
    config["Healthcheck"] = {{"Test", *spec.healthcheck}, {"Interval", 30000000000LL}, {"Retries", 3}};
  }
  nlohmann::ordered_json history = nlohmann::ordered_json::array();
  for (const std::string& step : spec.history) {
    const bool metadata = step.rfind("RUN", 0) != 0 && step.rfind("COPY", 0) != 0 && step.rfind("ADD", 0) != 0;
    nlohmann::ordered_json entry = {
        {"created", "2024-05-01T10:00:00Z"}, {"created_by", step}, {"comment", "buildkit.dockerfile.v0"}};
    if (metadata) entry["empty_layer"] = true;
    history.push_back(entry);
  }
  nlohmann::ordered_json doc = {{"architecture", spec.architecture},
                                {"config", config},
                                {"created", "2024-05-01T10:00:00Z"},
                                {"history", history},
                                {"os", spec.os},
                                {"rootfs", {{"type", "layers"}, {"diff_ids", {sha256("layer")}}}}};
  if (!spec.variant.empty()) doc["variant"] = spec.variant;
  return blob(doc.dump(), std::string(oci ? media_type::kOciConfig : media_type::kDockerConfig));
}

// A manifest (or index) and the reference it is pushed under.
struct ManifestDoc {
  std::string reference;  // tag, or "" to push by digest only
  std::string media_type;
  std::string content;
  std::string digest;
};

// Everything one repository needs, children before parents.
struct Push {
  std::string repository;
  std::vector<Blob> blobs;
  std::vector<ManifestDoc> manifests;

  // The digest the tag (the last manifest's reference) resolves to.
  [[nodiscard]] const std::string& digest() const { return manifests.back().digest; }
};

inline nlohmann::ordered_json descriptor(const Blob& b) {
  return {{"mediaType", b.media_type}, {"digest", b.digest}, {"size", b.content.size()}};
}

inline ManifestDoc image_manifest(const Blob& config, const std::vector<Blob>& layers, bool oci,
                                  std::string reference) {
  nlohmann::ordered_json doc = {{"schemaVersion", 2},
                                {"mediaType", oci ? media_type::kOciManifest : media_type::kDockerManifest},
                                {"config", descriptor(config)},
                                {"layers", nlohmann::ordered_json::array()}};
  for (const Blob& l : layers) doc["layers"].push_back(descriptor(l));
  const std::string content = doc.dump(3);
  return {std::move(reference), std::string(oci ? media_type::kOciManifest : media_type::kDockerManifest), content,
          sha256(content)};
}

// One single-platform image under `tag`.
inline Push single_image(const std::string& repository, const std::string& tag, const ConfigSpec& spec,
                         bool oci = false) {
  Push p{repository, {}, {}};
  const Blob config = config_blob(spec, oci);
  const Blob layer =
      blob("layer of " + repository + ":" + tag,
           oci ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.docker.image.rootfs.diff.tar.gzip");
  p.blobs = {config, layer};
  p.manifests.push_back(image_manifest(config, {layer}, oci, tag));
  return p;
}

// An index under `tag` with one image per spec and, when `attestation`, a
// BuildKit attestation manifest (platform unknown/unknown) for the first.
inline Push multi_platform(const std::string& repository, const std::string& tag, const std::vector<ConfigSpec>& specs,
                           bool attestation, bool oci = true) {
  Push p{repository, {}, {}};
  nlohmann::ordered_json index = {{"schemaVersion", 2},
                                  {"mediaType", oci ? media_type::kOciIndex : media_type::kDockerManifestList},
                                  {"manifests", nlohmann::ordered_json::array()}};
  for (const ConfigSpec& spec : specs) {
    const Blob config = config_blob(spec, oci);
    const Blob layer =
        blob("layer " + spec.architecture + spec.variant,
             oci ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.docker.image.rootfs.diff.tar.gzip");
    p.blobs.push_back(config);
    p.blobs.push_back(layer);
    const ManifestDoc m = image_manifest(config, {layer}, oci, "");
    p.manifests.push_back(m);
    nlohmann::ordered_json platform = {{"architecture", spec.architecture}, {"os", spec.os}};
    if (!spec.variant.empty()) platform["variant"] = spec.variant;
    index["manifests"].push_back(
        {{"mediaType", m.media_type}, {"digest", m.digest}, {"size", m.content.size()}, {"platform", platform}});
  }
  if (attestation) {
    const Blob config =
        blob(R"({"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}})",
             std::string(media_type::kOciConfig));
    const Blob statement =
        blob(R"({"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"})",
             "application/vnd.in-toto+json");
    p.blobs.push_back(config);
    p.blobs.push_back(statement);
    const ManifestDoc m = image_manifest(config, {statement}, true, "");
    p.manifests.push_back(m);
    index["manifests"].push_back({{"mediaType", m.media_type},
                                  {"digest", m.digest},
                                  {"size", m.content.size()},
                                  {"annotations",
                                   {{"vnd.docker.reference.digest", p.manifests.front().digest},
                                    {"vnd.docker.reference.type", "attestation-manifest"}}},
                                  {"platform", {{"architecture", "unknown"}, {"os", "unknown"}}}});
  }
  const std::string content = index.dump(2);
  p.manifests.push_back(
      {tag, std::string(oci ? media_type::kOciIndex : media_type::kDockerManifestList), content, sha256(content)});
  return p;
}

}  // namespace podguard::testing

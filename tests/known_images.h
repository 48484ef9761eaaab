// What image lookups answer, built by hand for engine tests: found images
// with one config per platform, references the registry says do not exist,
// and lookups that failed. Rule fixtures read the same shapes from a
// `<fixture>.images.json` beside a manifest (see CONTRIBUTING.md).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/facts/image_facts.h"
#include "engine/reading/document.h"
#include "engine/reading/image_config.h"

namespace podguard::testing {

inline const std::string kTestDigest = "sha256:" + std::string(64, 'd');

// One platform image: "linux/arm64" and the config's User as written.
struct PlatformUser {
  std::string platform;
  std::string user;
};

inline ImagePlatform test_platform(const std::string& text) {
  Result<ImagePlatform> p = parse_platform(text);
  if (!p.ok()) throw std::runtime_error("test platform " + text + ": " + p.status().message());
  return std::move(p).value();
}

// A found image whose platform images are `configs`, in order; a
// multi-platform index when there are several (or `index` says so).
inline ImageAnswer found(const std::vector<std::pair<std::string, ImageConfig>>& configs,
                         const std::string& digest = kTestDigest, bool index = false) {
  auto facts = std::make_shared<ImageFacts>();
  facts->registry = "ghcr.io";
  facts->name = "ghcr.io/acme/app";
  facts->digest = digest;
  facts->multi_platform = index || configs.size() > 1;
  for (std::size_t i = 0; i < configs.size(); ++i) {
    const ImagePlatform platform = test_platform(configs[i].first);
    facts->offered.push_back(platform);
    ImageConfig config = configs[i].second;
    config.os = platform.os;
    config.architecture = platform.architecture;
    config.variant = platform.variant;
    facts->images.push_back(PlatformImage{platform, "sha256:" + std::string(64, static_cast<char>('0' + i % 10)),
                                          "sha256:" + std::string(64, 'c'),
                                          std::make_shared<const ImageConfig>(std::move(config))});
  }
  ImageAnswer answer;
  answer.state = ImageAnswer::State::kFound;
  answer.registry = facts->registry;
  answer.facts = std::move(facts);
  return answer;
}

inline ImageConfig config_with_user(std::string user) {
  ImageConfig config;
  config.user = std::move(user);
  return config;
}

// A found image whose platform images have these USERs.
inline ImageAnswer found_users(const std::vector<PlatformUser>& users) {
  std::vector<std::pair<std::string, ImageConfig>> configs;
  for (const PlatformUser& u : users) configs.emplace_back(u.platform, config_with_user(u.user));
  return found(configs);
}

// A found single-platform linux/amd64 image with this USER.
inline ImageAnswer found_user(std::string user) { return found_users({{"linux/amd64", std::move(user)}}); }

inline ImageAnswer not_found(std::string reason) {
  ImageAnswer answer;
  answer.state = ImageAnswer::State::kNotFound;
  answer.registry = "ghcr.io";
  answer.reason = std::move(reason);
  return answer;
}

inline ImageAnswer failed(std::string registry, std::string reason) {
  ImageAnswer answer;
  answer.state = ImageAnswer::State::kFailed;
  answer.registry = std::move(registry);
  answer.reason = std::move(reason);
  return answer;
}

inline KnownImages known(std::vector<std::pair<std::string, ImageAnswer>> answers) {
  KnownImages out;
  for (auto& [ref, answer] : answers) out.add(std::move(ref), std::move(answer));
  return out;
}

// Reads a fixture's `.images.json`: an object from each reference, as the
// manifest writes it, to what its lookup answered:
//   {config blob}                          found, one platform (the blob's os/architecture, default linux/amd64)
//   {"platforms": {"linux/arm64": {blob}}} found, a multi-platform index judged for these platforms
//   {"notFound": "reason"}                 the registry says it does not exist
//   {"failed": "reason", "registry": host} the lookup failed
// A found image may set "digest" (default kTestDigest). Throws on a shape
// it does not know.
inline KnownImages known_images_from_json(const Json& doc) {
  if (!doc.is_object()) throw std::runtime_error("images.json: not an object of references");
  KnownImages out;
  auto read_config = [](const std::string& ref, const Json& blob) {
    Result<ImageConfig> config = parse_image_config(blob.dump());
    if (!config.ok()) throw std::runtime_error("images.json: " + ref + ": " + config.status().message());
    return std::move(config).value();
  };
  for (const auto& [key, value] : doc.items()) {
    const std::string ref{std::string_view(key)};
    if (!value.is_object()) throw std::runtime_error("images.json: " + ref + ": not an object");
    if (value.contains("notFound")) {
      out.add(ref, not_found(value.at("notFound").get<std::string>()));
    } else if (value.contains("failed")) {
      out.add(ref, failed(value.value("registry", std::string("ghcr.io")), value.at("failed").get<std::string>()));
    } else if (value.contains("platforms")) {
      std::vector<std::pair<std::string, ImageConfig>> configs;
      for (const auto& [platform, blob] : value.at("platforms").items()) {
        configs.emplace_back(std::string(std::string_view(platform)), read_config(ref, blob));
      }
      out.add(ref, found(configs, value.value("digest", kTestDigest), true));
    } else {
      ImageConfig config = read_config(ref, value);
      std::string platform = (config.os.empty() ? "linux" : config.os) + "/" +
                             (config.architecture.empty() ? "amd64" : config.architecture);
      if (!config.variant.empty()) platform += "/" + config.variant;
      out.add(ref, found({{platform, std::move(config)}}, value.value("digest", kTestDigest)));
    }
  }
  return out;
}

}  // namespace podguard::testing

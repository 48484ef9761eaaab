// What a registry said about one image reference: the digest it resolves
// to, the platforms it offers and, for each platform the policy asks about,
// the image's config. The image rules are pure functions of these facts and
// the object; fetching them is the registry client's job
// (webhook/registry/image_lookup.h), reading them from an archive another
// reader's.
//
// Plain values: safe to share between threads once built. A cache hands the
// same facts and configs to many reviews, through shared_ptr to const.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/reading/image_config.h"
#include "engine/reading/image_manifest.h"

namespace podguard {

// One platform's image inside a (possibly multi-platform) reference.
struct PlatformImage {
  ImagePlatform platform;       // as the index entry (or, for a single manifest, the config) states it
  std::string manifest_digest;  // the platform's own manifest
  std::string config_digest;
  std::shared_ptr<const ImageConfig> config;  // never null
};

struct ImageFacts {
  std::string registry;  // the registry the reference names, e.g. "docker.io" (a mirror may have answered)
  std::string name;      // registry/repository, e.g. "docker.io/library/nginx"
  // What the reference resolves to: the index's digest for a multi-platform
  // image, else the manifest's. The digest to pin to: name@digest.
  std::string digest;
  bool multi_platform = false;  // the reference names an index
  // Every platform the image offers (attestation entries left out), in the
  // index's order; for a single manifest, the platform its config states.
  std::vector<ImagePlatform> offered;
  // The images of the wanted platforms that exist, in the order the
  // platforms are wanted (every platform offered when none is wanted).
  // Empty when the image offers none of them: the `image-platform` rule's
  // case. A single manifest whose config states no platform counts as one
  // for any platform.
  std::vector<PlatformImage> images;
};

// What the lookup of one image a workload names answered.
struct ImageAnswer {
  enum class State : std::uint8_t {
    kFound,     // `facts` holds what the registry (or an archive) said
    kNotFound,  // the registry says the reference does not exist (image-resolvable)
    kFailed,    // the registry failed, refused or did not answer within the budget (images.onError)
  };
  State state = State::kFailed;
  std::shared_ptr<const ImageFacts> facts;  // kFound: never null
  // kNotFound, kFailed: the registry the reference names, e.g. "ghcr.io",
  // for messages (a found image's facts->registry says it).
  std::string registry;
  std::string reason;    // kNotFound, kFailed: what the registry (or the budget) said
};

// The answers for the images of the objects being judged, by reference as
// the objects write them: what the workload rules that use image facts read
// (run-as-non-root, image-pinned, and the image rules judged per
// container). An image that is not here was not looked up, and those rules
// judge the spec alone, as without lookups.
//
// A handful of images per review: a vector searched in order.
// Plain values: safe to share between threads once built.
class KnownImages {
 public:
  // A reference added twice keeps its first answer.
  void add(std::string reference, ImageAnswer answer) {
    if (find(reference) == nullptr) answers_.emplace_back(std::move(reference), std::move(answer));
  }
  const ImageAnswer* find(std::string_view reference) const {
    for (const auto& [ref, answer] : answers_) {
      if (ref == reference) return &answer;
    }
    return nullptr;
  }
  void reserve(std::size_t n) { answers_.reserve(n); }
  bool empty() const { return answers_.empty(); }
  std::size_t size() const { return answers_.size(); }
  const std::vector<std::pair<std::string, ImageAnswer>>& entries() const { return answers_; }

 private:
  std::vector<std::pair<std::string, ImageAnswer>> answers_;
};

}  // namespace podguard

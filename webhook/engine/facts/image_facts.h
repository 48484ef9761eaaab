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

#include <memory>
#include <string>
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

}  // namespace podguard

// Container image references, parsed the way the container runtimes do
// (github.com/distribution/reference): [registry/]repository[:tag][@digest].
// `registry:5000/app` has a registry with a port and no tag; `app` means
// docker.io/library/app.
//
// Pure functions over strings; safe from any number of threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podguard {

struct ImageReference {
  std::string registry;    // "docker.io" when the reference names none
  std::string repository;  // path below the registry, e.g. "library/nginx"
  std::string tag;         // empty when absent
  std::string digest;      // "sha256:<hex>", empty when absent
  bool explicit_registry = false;

  // registry/repository, e.g. "ghcr.io/org/app".
  std::string name() const { return registry + "/" + repository; }
};

struct ImageParse {
  std::optional<ImageReference> ref;
  std::string error;  // why the reference is invalid, when ref is empty
};

ImageParse parse_image_reference(std::string_view image);

}  // namespace podguard

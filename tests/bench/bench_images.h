// Images for the lookup benchmarks (cached_lookup_loop, slow_registry):
// what the in-process registry (tests/registry/fake_registry.h) serves for
// the images a review names.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "engine/admission/admission.h"
#include "engine/facts/image_reference.h"
#include "engine/rules/builtin.h"
#include "registry/fake_registry.h"

namespace podguard::testing {

// Pushes a passing single-platform image for every image the review's
// object names, under its repository and tag, and re-pins each reference
// pinned by digest to the digest of the image pushed for it (the same
// length) in `review`. Returns the registries the references name, for
// the lookup to mirror to `registry`; throws when the review names none.
inline std::vector<std::string> push_review_images(FakeRegistry& registry, std::string& review) {
  Policy policy = Policy::defaults(builtin_rules());
  policy.images.lookup = true;
  const Json parsed_review = Json::parse(review);
  const std::vector<std::string_view> views = admission_images(policy, parsed_review);
  const std::vector<std::string> images(views.begin(), views.end());
  if (images.empty()) throw std::runtime_error("the review names no image to look up");
  std::set<std::string> registries;
  for (const std::string& image : images) {
    const ImageParse parsed = parse_image_reference(image);
    if (!parsed.ref) throw std::runtime_error(image + ": " + parsed.error);
    const ImageReference& ref = *parsed.ref;
    const Push pushed = single_image(ref.repository, ref.tag.empty() ? "latest" : ref.tag, passing_image());
    registry.push(pushed);
    if (!ref.digest.empty()) {
      const std::size_t at = review.find(ref.digest);
      if (at != std::string::npos) review.replace(at, ref.digest.size(), pushed.digest());
    }
    registries.insert(ref.registry);
  }
  return {registries.begin(), registries.end()};
}

}  // namespace podguard::testing

#include "registry/policy_images.h"

#include "engine/facts/image_reference.h"

namespace podguard::registry {

RegistryOptions registry_options(const ImageSettings& s) {
  RegistryOptions o;
  o.timeout_seconds = s.timeout_seconds;
  o.platforms = s.platforms;
  o.credentials_file = s.credentials;
  o.ca_file = s.ca_file;
  o.insecure_registries = s.insecure_registries;
  for (const auto& [from, to] : s.mirrors) o.mirrors[from] = to;
  o.cache.tag_ttl_seconds = s.tag_ttl_seconds;
  o.cache.error_ttl_seconds = s.error_ttl_seconds;
  o.cache.max_entries = static_cast<std::size_t>(s.max_entries);
  return o;
}

bool same_client(const ImageSettings& a, const ImageSettings& b) {
  return a.timeout_seconds == b.timeout_seconds && a.platforms == b.platforms && a.credentials == b.credentials &&
         a.ca_file == b.ca_file && a.insecure_registries == b.insecure_registries && a.mirrors == b.mirrors &&
         a.tag_ttl_seconds == b.tag_ttl_seconds && a.error_ttl_seconds == b.error_ttl_seconds &&
         a.max_entries == b.max_entries;
}

KnownImages known_images(const std::vector<std::string>& references, const std::vector<ImageResult>& results) {
  KnownImages known;
  for (std::size_t i = 0; i < references.size() && i < results.size(); ++i) {
    const std::string& ref = references[i];
    const ImageResult& r = results[i];
    ImageAnswer a;
    if (r.ok()) {
      a.state = ImageAnswer::State::kFound;
      a.facts = *r;
      // The lookup set it from its parse of this reference (facts are
      // cached by registry/repository@digest): no second parse per review.
      if (a.facts != nullptr) a.registry = a.facts->registry;
    } else {
      a.state = r.status().is(StatusCode::kNotFound) ? ImageAnswer::State::kNotFound : ImageAnswer::State::kFailed;
      a.reason = r.status().message();
    }
    if (a.registry.empty()) {
      const ImageParse parsed = parse_image_reference(ref);
      if (parsed.ref) a.registry = parsed.ref->registry;
    }
    known.add(ref, std::move(a));
  }
  return known;
}

}  // namespace podguard::registry

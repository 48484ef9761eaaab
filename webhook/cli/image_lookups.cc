#include "cli/image_lookups.h"

#include <algorithm>
#include <chrono>

#include "registry/image_lookup.h"
#include "registry/policy_images.h"

namespace podguard::cli {

Result<KnownImages> look_up(const Policy& policy, const std::vector<std::string>& images, double budget_seconds) {
  if (images.empty()) return KnownImages();
  Result<std::unique_ptr<registry::ImageLookup>> lookup =
      registry::ImageLookup::create(registry::registry_options(policy.images));
  if (!lookup.ok()) return lookup.status();
  const auto budget = std::chrono::milliseconds(static_cast<long long>(budget_seconds * 1000));
  const std::vector<std::string_view> references(images.begin(), images.end());
  return registry::known_images(references, (*lookup)->lookup_all(images, budget));
}

Result<KnownImages> look_up(const Policy& policy, const std::vector<std::string>& images) {
  return look_up(policy, images,
                 policy.images.timeout_seconds * static_cast<double>(std::max<std::size_t>(images.size(), 1)));
}

}  // namespace podguard::cli

// `podguard image REF...`: looks image references up in their registries
// and judges their configs with the image rules, for CI.
#pragma once

#include <string>
#include <vector>

#include "cli/check_report.h"
#include "engine/policy/policy.h"

namespace CLI {
class App;
}

namespace podguard::registry {
class ImageLookup;
}

namespace podguard::cli {

struct ImageOptions {
  std::string config_path;  // empty: the contract profile's defaults
  std::string output = "text";
  std::string fail_on = "deny";
  std::vector<std::string> references;
};

// Adds the `image` subcommand; `options` must outlive the app.
CLI::App* add_image_command(CLI::App& app, ImageOptions& options);

// Looks the references up and prints the report in the format asked for;
// returns the exit code as `podguard check` does (0 clean, 1 violations at
// or above --fail-on, 2 usage or input errors such as a malformed
// reference or an unusable images: block).
int run_image(const ImageOptions& options);

// Looks up and judges `references` (blocking); a failed lookup is judged
// as policy.images.onError says. Malformed references are input errors.
CheckReport check_images(const Policy& policy, registry::ImageLookup& lookup,
                         const std::vector<std::string>& references, const EvalOptions& eval);

}  // namespace podguard::cli

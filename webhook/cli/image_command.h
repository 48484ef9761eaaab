// `podguard image REF... [--archive FILE]...`: looks image references up in
// their registries, reads the images of `docker save` tarballs and OCI
// layouts, and judges their configs with the image rules, for CI.
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
  std::vector<std::string> archives;  // --archive: docker save tarballs, OCI layouts (dirs or tars), "-" for stdin
};

// Adds the `image` subcommand; `options` must outlive the app.
CLI::App* add_image_command(CLI::App& app, ImageOptions& options);

// Looks the references up, reads the archives, and prints the report in the format asked for;
// returns the exit code as `podguard check` does (0 clean, 1 violations at
// or above --fail-on, 2 usage or input errors such as a malformed
// reference or an unusable images: block).
int run_image(const ImageOptions& options);

// Looks up and judges `references` (blocking); a failed lookup is judged
// as policy.images.onError says. Malformed references are input errors.
CheckReport check_images(const Policy& policy, registry::ImageLookup& lookup,
                         const std::vector<std::string>& references, const EvalOptions& eval);

// Reads and judges the images of each archive (registry/image_archive.h),
// one object per image named as the reader shows it; an archive that
// cannot be read, or an image in it, is an input error naming the archive
// and the entry. Platforms are chosen as policy.images.platforms says.
CheckReport check_archives(const Policy& policy, const std::vector<std::string>& archives, const EvalOptions& eval);

}  // namespace podguard::cli

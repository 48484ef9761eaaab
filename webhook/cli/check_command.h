// `podguard check`: the engine over manifest files, for CI.
//
// check_inputs reads and judges files on up to --jobs threads of its own,
// each with its own documents, sharing only the immutable Policy; call it
// from one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/check_report.h"

namespace podguard::cli {

struct CheckOptions {
  std::string config_path;  // empty: the contract profile's defaults
  std::string output = "text";
  std::string fail_on = "deny";
  std::string default_namespace = "default";
  unsigned jobs = 0;  // 0: one per core
  // --image-lookup / --no-image-lookup: overrides the config's images.lookup.
  std::optional<bool> image_lookup;
  std::vector<std::string> paths;
};

// Adds the `check` subcommand; `options` must outlive the app.
CLI::App* add_check_command(CLI::App& app, CheckOptions& options);

// Runs the check and prints the report; returns the exit code (0 clean, 1
// violations at or above --fail-on, 2 usage or input errors).
int run_check(const CheckOptions& options);

// The images the workloads in `paths` name, each once, in the order first
// met (Dockerfiles and unreadable files left out: check_inputs reports
// those). What `podguard check` looks up before it judges, when lookups are on.
std::vector<std::string> workload_images(const std::vector<std::string>& paths);

// Parses and evaluates inputs on `jobs` threads; objects come back in input
// order whatever the thread count. With eval.images, the workload rules use
// what lookups answered for those images.
CheckReport check_inputs(const Policy& policy, const std::vector<std::string>& paths, const EvalOptions& eval,
                         unsigned jobs);

}  // namespace podguard::cli

#include "cli/review_command.h"

#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/image_lookups.h"
#include "cli/manifest_files.h"
#include "cli/policy_file.h"
#include "engine/admission/admission.h"

namespace podguard::cli {

CLI::App* add_review_command(CLI::App& app, ReviewOptions& options) {
  CLI::App* cmd = app.add_subcommand("review", "Print the webhook's response to an AdmissionReview");
  cmd->add_option("file", options.input, "AdmissionReview JSON file, or - for standard input")->capture_default_str();
  cmd->add_option("-c,--config", options.config_path,
                  "PolicyConfig file (default: the contract profile with its default actions)");
  return cmd;
}

int run_review(const ReviewOptions& options) {
  std::optional<Policy> policy = load_policy_file(options.config_path);
  if (!policy) return 2;
  const ManifestInput input{options.input == "-" ? "<stdin>" : options.input, options.input == "-"};
  Result<std::string> body = read_input(input);
  if (!body.ok()) {
    std::cerr << input.name << ": error: " << body.error().message() << "\n";
    return 2;
  }
  // As the webhook: the object's images looked up first (images.lookup),
  // within the same budget.
  const ReadResult read = read_admission_review(*body);
  KnownImages known;
  if (const std::vector<std::string_view> images = admission_images(*policy, read); !images.empty()) {
    Result<KnownImages> looked_up =
        look_up(*policy, std::vector<std::string>(images.begin(), images.end()), policy->images.timeout_seconds);
    if (!looked_up.ok()) {
      std::cerr << "podguard: error: images: " << looked_up.status().to_string() << "\n";
      return 2;
    }
    known = std::move(*looked_up);
  }
  // No answers (lookups off, or nothing to look up): judged as without
  // lookups, not by walking every container for image answers that are not there.
  const AdmissionResult result = review_admission_read(*policy, read, today_utc(), known.empty() ? nullptr : &known);
  if (!result.error.ok()) {
    // What the webhook answers with HTTP 400.
    std::cout << Json{{"error", "malformed AdmissionReview: " + result.error.message()}}.dump() << "\n";
    std::cerr << input.name << ": error: malformed AdmissionReview: " << result.error.message() << "\n";
    return 2;
  }
  std::cout << result.outcome->response.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  return result.outcome->decision == Decision::kDenied ? 1 : 0;
}

}  // namespace podguard::cli

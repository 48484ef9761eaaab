#include "cli/image_command.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/policy_file.h"
#include "engine/facts/image_reference.h"
#include "engine/policy/evaluate_image.h"
#include "registry/image_lookup.h"

namespace podguard::cli {

CLI::App* add_image_command(CLI::App& app, ImageOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "image", "Look images up in their registries and judge their configs against the policy's image rules");
  cmd->add_option("references", options.references,
                  "Image references (nginx:1.27, ghcr.io/org/app@sha256:...)")
      ->required();
  cmd->add_option("-c,--config", options.config_path,
                  "PolicyConfig file; its images: block says how to reach registries (default: the contract "
                  "profile, public registries)");
  cmd->add_option("-o,--output", options.output, "Output format")
      ->check(CLI::IsMember({"text", "json", "junit", "sarif"}))
      ->capture_default_str();
  cmd->add_option("--fail-on", options.fail_on, "Exit 1 when a violation at or above this action is found")
      ->check(CLI::IsMember({"deny", "warn", "never"}))
      ->capture_default_str();
  return cmd;
}

namespace {

registry::RegistryOptions registry_options(const ImageSettings& s) {
  registry::RegistryOptions o;
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

constexpr std::string_view kLookupRule = "image-resolvable";

// A lookup that failed for another reason than "does not exist": what
// images.onError says.
void judge_failure(const Policy& policy, const std::string& registry, const Status& failure, ObjectVerdict& v) {
  const ImageSettings::OnError on_error = policy.images.on_error;
  if (on_error == ImageSettings::OnError::kAllow) return;
  const Action action = on_error == ImageSettings::OnError::kDeny ? Action::kDeny : Action::kWarn;
  v.violations.push_back(Violation{
      std::string(kLookupRule), action, std::nullopt, FieldPath(),
      "the image could not be looked up in " + registry + ": " + failure.message() + " (images.onError: " +
          std::string(to_string(on_error)) + " makes this a " + std::string(to_string(action)) +
          " finding; allow would judge nothing)"});
}

}  // namespace

CheckReport check_images(const Policy& policy, registry::ImageLookup& lookup,
                         const std::vector<std::string>& references, const EvalOptions& eval) {
  CheckReport report;
  report.files = references;
  std::vector<std::string> valid;
  std::vector<std::string> registries;
  for (const std::string& ref : references) {
    const ImageParse parsed = parse_image_reference(ref);
    if (!parsed.ref) {
      report.errors.push_back(Status::invalid_input("not an image reference: " + parsed.error).with_file(ref));
      continue;
    }
    valid.push_back(ref);
    registries.push_back(parsed.ref->registry);
  }
  // The whole batch gets the budget once per image: the CLI is not held to
  // a review's deadline.
  const auto budget = std::chrono::milliseconds(
      static_cast<long long>(policy.images.timeout_seconds * 1000) * static_cast<long long>(std::max<std::size_t>(valid.size(), 1)));
  std::vector<registry::ImageResult> results = lookup.lookup_all(valid, budget);
  for (std::size_t i = 0; i < valid.size(); ++i) {
    CheckedObject o;
    o.file = valid[i];
    o.pos = SourcePos{1, 1};
    o.image = true;
    const registry::ImageResult& r = results[i];
    if (r.ok()) {
      o.verdict = evaluate_image(policy, valid[i], **r, eval);
    } else if (r.status().code() == StatusCode::kNotFound) {
      o.verdict = evaluate_missing_image(policy, valid[i], r.status().message(), eval);
    } else {
      o.verdict.kind = "Image";
      o.verdict.name = valid[i];
      o.verdict.checked = true;
      judge_failure(policy, registries[i], r.status(), o.verdict);
    }
    o.violation_pos.assign(o.verdict.violations.size(), o.pos);
    o.exemption_pos.assign(o.verdict.exempted.size(), o.pos);
    report.objects.push_back(std::move(o));
  }
  return report;
}

int run_image(const ImageOptions& options) {
  std::optional<Policy> policy = load_policy_file(options.config_path);
  if (!policy) return 2;
  Result<std::unique_ptr<registry::ImageLookup>> lookup =
      registry::ImageLookup::create(registry_options(policy->images));
  if (!lookup.ok()) {
    std::cerr << "podguard: error: images: " << lookup.status().message() << "\n";
    return 2;
  }
  const CheckReport report = check_images(*policy, **lookup, options.references, EvalOptions{});
  return print_report(report, options.output, options.fail_on);
}

}  // namespace podguard::cli

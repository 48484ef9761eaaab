#include "cli/image_command.h"

#include <algorithm>
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/policy_file.h"
#include "engine/facts/image_reference.h"
#include "engine/policy/evaluate_image.h"
#include "registry/image_archive.h"
#include "registry/image_assembly.h"
#include "registry/image_lookup.h"
#include "registry/policy_images.h"

namespace podguard::cli {

CLI::App* add_image_command(CLI::App& app, ImageOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "image",
      "Judge images against the policy's image rules: looked up in their registries, or read from an archive "
      "(docker save, OCI layout) before they are pushed");
  cmd->add_option("references", options.references,
                  "Image references (nginx:1.27, ghcr.io/org/app@sha256:...); with --archive, optional");
  cmd->add_option("--archive", options.archives,
                  "A docker save tarball (plain or .gz), an OCI image layout directory or a tar of one; '-' reads "
                  "standard input; repeat for several. Every image in it is judged; no registry is asked")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-c,--config", options.config_path,
                  "PolicyConfig file; its images: block says how to reach registries (default: the contract "
                  "profile, public registries)");
  add_report_options(cmd, options.output, options.fail_on);
  return cmd;
}

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
      o.verdict = evaluate_unreachable_image(policy, valid[i], registries[i], r.status().message(), eval);
    }
    o.violation_pos.assign(o.verdict.violations.size(), o.pos);
    o.exemption_pos.assign(o.verdict.exempted.size(), o.pos);
    report.objects.push_back(std::move(o));
  }
  return report;
}

namespace {

CheckedObject image_object(std::string reference, ObjectVerdict verdict) {
  CheckedObject o;
  o.file = std::move(reference);
  o.pos = SourcePos{1, 1};
  o.image = true;
  o.verdict = std::move(verdict);
  o.violation_pos.assign(o.verdict.violations.size(), o.pos);
  o.exemption_pos.assign(o.verdict.exempted.size(), o.pos);
  return o;
}

}  // namespace

CheckReport check_archives(const Policy& policy, const std::vector<std::string>& archives, const EvalOptions& eval) {
  CheckReport report;
  report.files = archives;
  registry::ArchiveOptions options;
  auto platforms = registry::parse_platforms(policy.images.platforms);
  if (!platforms.ok()) {
    report.errors.push_back(Status(platforms.error()).prefix("images: "));
    return report;
  }
  options.platforms = std::move(*platforms);
  for (const std::string& archive : archives) {
    Result<std::vector<registry::ArchiveImage>> images = registry::read_image_archive(archive, options);
    if (!images.ok()) {
      report.errors.push_back(images.error());
      continue;
    }
    for (registry::ArchiveImage& image : *images) {
      if (!image.facts.ok()) {
        report.errors.push_back(image.facts.error());
        continue;
      }
      ObjectVerdict verdict = evaluate_image(policy, image.reference, **image.facts, eval);
      report.objects.push_back(image_object(std::move(image.reference), std::move(verdict)));
    }
  }
  return report;
}

int run_image(const ImageOptions& options) {
  if (options.references.empty() && options.archives.empty()) {
    std::cerr << "podguard: error: image: give image references, --archive FILE, or both\n";
    return 2;
  }
  std::optional<Policy> policy = load_policy_file(options.config_path);
  if (!policy) return 2;
  CheckReport report;
  if (!options.references.empty()) {
    Result<std::unique_ptr<registry::ImageLookup>> lookup =
        registry::ImageLookup::create(registry::registry_options(policy->images));
    if (!lookup.ok()) {
      std::cerr << "podguard: error: images: " << lookup.status().to_string() << "\n";
      return 2;
    }
    report = check_images(*policy, **lookup, options.references, EvalOptions{});
  }
  if (!options.archives.empty()) {
    CheckReport archives = check_archives(*policy, options.archives, EvalOptions{});
    report.files.insert(report.files.end(), archives.files.begin(), archives.files.end());
    for (CheckedObject& o : archives.objects) report.objects.push_back(std::move(o));
    for (Status& e : archives.errors) report.errors.push_back(std::move(e));
  }
  return print_report(report, options.output, options.fail_on);
}

}  // namespace podguard::cli

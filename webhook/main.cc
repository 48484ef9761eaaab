// podguard: one executable, one engine, several ways in.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/certgen_command.h"
#include "cli/check_command.h"
#include "cli/image_command.h"
#include "cli/probe_command.h"
#include "cli/review_command.h"
#include "cli/rules_command.h"
#include "cli/serve_command.h"
#include "cli/webhook_test_command.h"

int main(int argc, char** argv) {
  CLI::App app{"podguard: keeps workloads that break the production container contract out of the cluster"};
  app.set_version_flag("--version", std::string("podguard ") + PODGUARD_VERSION);
  app.require_subcommand(1);

  podguard::cli::CheckOptions check;
  CLI::App* check_cmd = podguard::cli::add_check_command(app, check);

  podguard::cli::ImageOptions image;
  CLI::App* image_cmd = podguard::cli::add_image_command(app, image);

  podguard::cli::ReviewOptions review;
  CLI::App* review_cmd = podguard::cli::add_review_command(app, review);

  podguard::server::ServeOptions serve;
  CLI::App* serve_cmd = podguard::cli::add_serve_command(app, serve);

  podguard::cli::ProbeOptions probe;
  CLI::App* probe_cmd = podguard::cli::add_probe_command(app, probe);

  podguard::cli::CertgenOptions certgen;
  CLI::App* certgen_cmd = podguard::cli::add_certgen_command(app, certgen);

  podguard::cli::WebhookTestOptions webhook_test;
  CLI::App* webhook_test_cmd = podguard::cli::add_webhook_test_command(app, webhook_test);

  bool markdown = false;
  CLI::App* rules_cmd = app.add_subcommand("rules", "Print the rule reference");
  rules_cmd->add_flag("--markdown", markdown, "Markdown, as committed in docs/rules.md");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors are exit 2, --help and --version 0
  }

  try {
    if (check_cmd->parsed()) return podguard::cli::run_check(check);
    if (image_cmd->parsed()) return podguard::cli::run_image(image);
    if (review_cmd->parsed()) return podguard::cli::run_review(review);
    if (serve_cmd->parsed()) return podguard::server::run_serve(serve);
    if (probe_cmd->parsed()) return podguard::cli::run_probe(probe);
    if (certgen_cmd->parsed()) return podguard::cli::run_certgen(certgen);
    if (webhook_test_cmd->parsed()) return podguard::cli::run_webhook_test(webhook_test);
    if (rules_cmd->parsed()) {
      markdown ? podguard::cli::write_rules_markdown(std::cout) : podguard::cli::write_rules_text(std::cout);
      return 0;
    }
  } catch (const std::exception& e) {
    // Not expected: inputs are validated at the edge. Never die silently.
    std::cerr << "podguard: internal error: " << e.what() << "\n";
    return 3;
  }
  return 2;
}

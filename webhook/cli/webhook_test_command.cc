#include "cli/webhook_test_command.h"

#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/https_endpoint.h"

namespace podguard::cli {
namespace {

using nlohmann::json;

const char* const kUid = "5f0c2b7e-podguard-webhook-test";

// A pod that every profile denies: privileged, root, host network, image
// `latest`, no probes, no resources.
json review_of_bad_pod() {
  const json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "podguard-webhook-test"}, {"namespace", "podguard-webhook-test"}}},
      {"spec",
       {{"hostNetwork", true},
        {"containers",
         json::array({{{"name", "app"},
                       {"image", "registry.invalid/podguard-webhook-test:latest"},
                       {"securityContext", {{"privileged", true}, {"runAsUser", 0}}}}})}}}};
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", kUid},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
            {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
            {"namespace", "podguard-webhook-test"},
            {"name", "podguard-webhook-test"},
            {"operation", "CREATE"},
            {"userInfo", {{"username", "system:serviceaccount:podguard:webhook-test"}}},
            {"object", pod},
            {"dryRun", true}}}};
}

}  // namespace

CLI::App* add_webhook_test_command(CLI::App& app, WebhookTestOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "webhook-test", "Send a running webhook the review of a pod that breaks the contract, over verified TLS, "
                      "and check that it is denied (helm test)");
  cmd->add_option("--url", options.url, "https://<service>.<namespace>.svc:<port>/validate")->required();
  cmd->add_option("--ca-file", options.ca_file, "PEM CA certificates that verify the webhook (its caBundle)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--expect", options.expect, "The verdict that passes")
      ->check(CLI::IsMember({"deny", "allow"}))
      ->capture_default_str();
  cmd->add_option("--timeout", options.timeout, "Seconds to wait")->check(CLI::Range(0.1, 120.0))->capture_default_str();
  return cmd;
}

int run_webhook_test(const WebhookTestOptions& options) {
  const auto url = parse_https_url(options.url);
  if (!url) {
    std::cerr << "podguard webhook-test: --url must be https://host[:port]/path: " << options.url << "\n";
    return 2;
  }
  HttpsEndpoint webhook(*url, options.ca_file, options.timeout);
  const HttpsAnswer answer = webhook.send("POST", "", review_of_bad_pod().dump());
  const std::string where = options.url;
  if (answer.status == 0) {
    std::cerr << "podguard webhook-test: " << where << ": no answer (" << answer.error << ")\n";
    return 1;
  }
  if (answer.status != 200) {
    std::cerr << "podguard webhook-test: " << where << " answered HTTP " << answer.status << ": " << answer.body << "\n";
    return 1;
  }
  const json review = json::parse(answer.body, nullptr, false);
  const json* response = review.is_object() && review.contains("response") ? &review["response"] : nullptr;
  if (response == nullptr || !response->is_object() || !response->contains("allowed") ||
      !(*response)["allowed"].is_boolean()) {
    std::cerr << "podguard webhook-test: " << where << " answered no AdmissionReview response: " << answer.body << "\n";
    return 1;
  }
  if (response->value("uid", "") != kUid) {
    std::cerr << "podguard webhook-test: the response's uid is not the request's (" << response->value("uid", "")
              << ")\n";
    return 1;
  }
  const bool allowed = (*response)["allowed"].get<bool>();
  std::string message;
  if (response->contains("status") && (*response)["status"].is_object()) {
    message = (*response)["status"].value("message", "");
  }
  if (allowed == (options.expect == "allow")) {
    std::cout << "podguard webhook-test: " << where << " " << (allowed ? "allowed" : "denied")
              << " the test pod, as expected" << (message.empty() ? "" : ": " + message) << "\n";
    return 0;
  }
  std::cerr << "podguard webhook-test: " << where << " " << (allowed ? "allowed" : "denied")
            << " a privileged root pod with image :latest; expected " << options.expect
            << (message.empty() ? "" : ": " + message) << "\n";
  return 1;
}

}  // namespace podguard::cli

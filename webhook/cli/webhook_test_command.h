// `podguard webhook-test`: sends a running webhook the review of a pod that
// breaks the contract, over TLS verified as the API server verifies it (the
// caBundle's CA, the Service's DNS name), and checks the verdict. The
// chart's `helm test` Pod runs it.
//
// Each run_* function owns the process while it runs: call it from the main
// thread, once.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace podguard::cli {

struct WebhookTestOptions {
  std::string url;      // https://<svc>.<ns>.svc:443/validate
  std::string ca_file;  // PEM CA certificates (the caBundle, decoded)
  std::string expect = "deny";  // deny | allow
  double timeout = 10;
};

CLI::App* add_webhook_test_command(CLI::App& app, WebhookTestOptions& options);

// 0 when the webhook answers the review as expected, 1 otherwise (the
// reason on stderr), 2 for bad arguments.
int run_webhook_test(const WebhookTestOptions& options);

}  // namespace podguard::cli

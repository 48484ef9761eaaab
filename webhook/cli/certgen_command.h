// `podguard certgen`: the webhook's CA and serving certificate, for the
// chart's tls.mode certgen (a hook Job) or by hand. In the cluster it keeps
// the TLS Secret while its certificate is good, makes a new pair when it is
// missing, expiring or for other names, and patches the caBundle of the
// ValidatingWebhookConfiguration. With --out-dir it only writes the files.
//
// Each run_* function owns the process while it runs: call it from the main
// thread, once.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace podguard::cli {

struct CertgenOptions {
  std::string service;    // the webhook's Service
  std::string ns;         // its namespace
  std::string secret;     // the kubernetes.io/tls Secret (default <service>-tls)
  std::string webhook;    // ValidatingWebhookConfiguration to patch; empty: none
  int validity_days = 3650;
  int renew_before_days = 30;
  std::string out_dir;    // write ca.crt, tls.crt, tls.key here instead of calling the API
  // The Kubernetes API; the defaults are the in-cluster service account's.
  std::string api_server;  // default https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
  std::string token_file = "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string api_ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
};

CLI::App* add_certgen_command(CLI::App& app, CertgenOptions& options);

// 0 when the Secret (or the files) and the caBundle are in place, 1 when an
// API call failed (the reason on stderr), 2 for bad arguments.
int run_certgen(const CertgenOptions& options);

}  // namespace podguard::cli

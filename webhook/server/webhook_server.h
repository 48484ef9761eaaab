// `podguard serve`: the HTTPS validating admission webhook around the
// engine. It owns the listening sockets, TLS, hot reload of the config and
// the certificate, health, metrics, logs and graceful shutdown; every
// admission decision is made by engine/admission.
//
// run_serve owns the process: call it once, from the main thread.
#pragma once

#include <cstddef>
#include <string>

namespace podguard::server {

struct ServeOptions {
  std::string config_path;                  // PolicyConfig file (required)
  std::string tls_cert;                     // PEM certificate chain (required)
  std::string tls_key;                      // PEM private key (required)
  std::string client_ca;                    // PEM CA bundle; when set, clients must present a certificate it signed
  std::string addr = "0.0.0.0:8443";        // HTTPS address; port 0 picks a free port (logged)
  std::string metrics_addr = "0.0.0.0:9090";  // plain-HTTP /metrics address; port 0 picks a free port
  double shutdown_timeout = 25;             // seconds from SIGTERM to exit, at most
  double drain_delay = 5;                   // seconds from SIGTERM to closing the listener (readiness fails, serving goes on)
  std::string log_level = "info";           // debug, info, warn, error

  // Tuning, with defaults sized for an API server's connection pattern.
  double reload_interval = 1;       // seconds between checks of the watched files
  double header_timeout = 5;        // seconds from a request's first byte to its last header byte, in all
  double min_body_rate = 256 * 1024;  // bytes per second a body must average after header_timeout
  double read_timeout = 10;         // seconds a client may stall mid-request, or in reading the answer
  double keep_alive_timeout = 5;    // seconds an idle keep-alive connection is kept
  std::size_t max_connections = 1024;  // open HTTPS connections at once; a newcomer beyond takes the longest-waiting one's place
  std::size_t workers = 0;          // event-loop threads; 0: one per CPU the process may use
};

// Runs the webhook until SIGTERM or SIGINT, then drains (docs/serve.md,
// "Shutdown"). Returns the exit code: 0 after a graceful shutdown; 1 when
// shutdown timed out; 2 when the options, the config or the TLS files are
// invalid (reported before listening).
int run_serve(const ServeOptions& options);

}  // namespace podguard::server

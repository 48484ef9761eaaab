#include "cli/serve_command.h"

#include <CLI/CLI.hpp>

namespace podguard::cli {

CLI::App* add_serve_command(CLI::App& app, server::ServeOptions& o) {
  CLI::App* cmd = app.add_subcommand("serve", "Run the HTTPS validating admission webhook");
  cmd->add_option("-c,--config", o.config_path, "PolicyConfig file; reloaded when it changes or on SIGHUP")
      ->envname("PODGUARD_CONFIG");
  cmd->add_option("--tls-cert", o.tls_cert, "PEM certificate chain; reloaded when it changes")
      ->envname("PODGUARD_TLS_CERT");
  cmd->add_option("--tls-key", o.tls_key, "PEM private key; reloaded when it changes")->envname("PODGUARD_TLS_KEY");
  cmd->add_option("--client-ca", o.client_ca, "PEM CA bundle; when set, clients must present a certificate it signed")
      ->envname("PODGUARD_CLIENT_CA");
  cmd->add_option("--addr", o.addr, "HTTPS listen address (host:port; port 0 picks a free one)")
      ->envname("PODGUARD_ADDR")
      ->capture_default_str();
  cmd->add_option("--metrics-addr", o.metrics_addr, "Plain-HTTP address for /metrics, /healthz and /readyz")
      ->envname("PODGUARD_METRICS_ADDR")
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", o.shutdown_timeout,
                  "Seconds from SIGTERM to exit, at most (keep it under the pod's termination grace period)")
      ->envname("PODGUARD_SHUTDOWN_TIMEOUT")
      ->capture_default_str();
  cmd->add_option("--drain-delay", o.drain_delay,
                  "Seconds from SIGTERM to closing the listener: readiness fails at once and serving goes on while "
                  "endpoints update (shorter than --shutdown-timeout)")
      ->envname("PODGUARD_DRAIN_DELAY")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->envname("PODGUARD_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->add_option("--max-connections", o.max_connections,
                  "Open HTTPS connections at once; a newcomer beyond takes the place of the one idle or stalled the "
                  "longest")
      ->envname("PODGUARD_MAX_CONNECTIONS")
      ->check(CLI::Range(std::size_t{4}, std::size_t{65536}))
      ->capture_default_str();
  cmd->add_option("--workers", o.workers,
                  "Event-loop threads serving HTTPS; 0: one per CPU the process may use (cgroup quota, affinity), at most 8")
      ->envname("PODGUARD_WORKERS")
      ->check(CLI::Range(std::size_t{0}, std::size_t{64}))
      ->capture_default_str();
  cmd->add_option("--keep-alive-timeout", o.keep_alive_timeout, "Seconds an idle keep-alive connection stays open")
      ->envname("PODGUARD_KEEP_ALIVE_TIMEOUT")
      ->check(CLI::Range(1.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--header-timeout", o.header_timeout,
                  "Seconds from a request's first byte (or a connection's accept) to its last header byte, in all")
      ->envname("PODGUARD_HEADER_TIMEOUT")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  cmd->add_option("--min-body-rate", o.min_body_rate,
                  "Bytes per second a request body must average once --header-timeout has passed since its headers")
      ->envname("PODGUARD_MIN_BODY_RATE")
      ->check(CLI::Range(1.0, 1e12))
      ->capture_default_str();
  cmd->add_option("--read-timeout", o.read_timeout,
                  "Seconds a client may stall in the middle of a request, or in reading an answer")
      ->envname("PODGUARD_READ_TIMEOUT")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  cmd->add_option("--reload-interval", o.reload_interval, "Seconds between checks of the config and TLS files")
      ->envname("PODGUARD_RELOAD_INTERVAL")
      ->check(CLI::Range(0.05, 3600.0))
      ->capture_default_str();
  return cmd;
}

}  // namespace podguard::cli

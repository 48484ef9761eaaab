#include "cli/probe_command.h"

#include <iostream>

#include <CLI/CLI.hpp>
#include <httplib.h>

namespace podguard::cli {

CLI::App* add_probe_command(CLI::App& app, ProbeOptions& options) {
  CLI::App* cmd = app.add_subcommand("probe", "Exit 0 when podguard's plain-HTTP health endpoint answers 200");
  cmd->add_option("--url", options.url, "http://host:port/path of /healthz or /readyz on the metrics address")
      ->envname("PODGUARD_PROBE_URL")
      ->capture_default_str();
  cmd->add_option("--timeout", options.timeout, "Seconds to wait")->check(CLI::Range(0.1, 60.0))->capture_default_str();
  return cmd;
}

int run_probe(const ProbeOptions& options) {
  const std::string prefix = "http://";
  if (options.url.rfind(prefix, 0) != 0) {
    std::cerr << "podguard probe: --url must start with http:// (the metrics address serves plain HTTP)\n";
    return 1;
  }
  const auto slash = options.url.find('/', prefix.size());
  const std::string host = options.url.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/readyz" : options.url.substr(slash);
  httplib::Client client(host);
  const auto timeout = std::chrono::duration<double>(options.timeout);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  const auto response = client.Get(path.c_str());
  if (!response) {
    std::cerr << "podguard probe: " << options.url << ": no answer (" << httplib::to_string(response.error())
              << " error); is podguard serve running with its metrics address there?\n";
    return 1;
  }
  if (response->status != 200) {
    std::cerr << "podguard probe: " << options.url << " answered " << response->status << ": " << response->body << "\n";
    return 1;
  }
  return 0;
}

}  // namespace podguard::cli

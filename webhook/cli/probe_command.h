// `podguard probe`: a health check for container runtimes that run a
// command (Docker HEALTHCHECK) in an image with no curl or shell.
//
// Each run_* function owns the process while it runs: call it from the main
// thread, once.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace podguard::cli {

struct ProbeOptions {
  std::string url = "http://127.0.0.1:9090/readyz";
  double timeout = 2;
};

CLI::App* add_probe_command(CLI::App& app, ProbeOptions& options);

// 0 when the URL answers 200, 1 otherwise (with the reason on stderr).
int run_probe(const ProbeOptions& options);

}  // namespace podguard::cli

// `podguard serve`: flags (each also read from a PODGUARD_* variable).
//
// Each run_* function owns the process while it runs: call it from the main
// thread, once.
#pragma once

#include "server/webhook_server.h"

namespace CLI {
class App;
}

namespace podguard::cli {

CLI::App* add_serve_command(CLI::App& app, server::ServeOptions& options);

}  // namespace podguard::cli

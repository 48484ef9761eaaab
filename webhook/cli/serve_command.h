// `podguard serve`: flags (each also read from a PODGUARD_* variable).
#pragma once

#include "server/webhook_server.h"

namespace CLI {
class App;
}

namespace podguard::cli {

CLI::App* add_serve_command(CLI::App& app, server::ServeOptions& options);

}  // namespace podguard::cli

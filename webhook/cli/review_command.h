// `podguard review [FILE|-]`: reads an AdmissionReview and prints the
// response the webhook would send, byte for byte.
//
// Each run_* function owns the process while it runs: call it from the main
// thread, once.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace podguard::cli {

struct ReviewOptions {
  std::string config_path;  // empty: the contract profile's defaults
  std::string input = "-";
};

CLI::App* add_review_command(CLI::App& app, ReviewOptions& options);

// Exit 0 when allowed (or untouched), 1 when denied, 2 for a malformed
// review or an unreadable file or config.
int run_review(const ReviewOptions& options);

}  // namespace podguard::cli

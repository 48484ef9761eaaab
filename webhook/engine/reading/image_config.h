// The config blob of a container image (an OCI image config, or the Docker
// image JSON it grew from): what podguard judges about an image without
// reading its layers. USER, ENV, labels, HEALTHCHECK, ENTRYPOINT/CMD and the
// build history are all here.
//
// parse_image_config is a pure function over text; the registry client and
// archive readers feed it. An ImageConfig is a plain value, safe to share
// between threads once built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/status.h"

namespace podguard {

struct ImageEnvVar {
  std::string name;
  std::string value;  // what follows the first '='; empty for an entry without one
  bool operator==(const ImageEnvVar&) const = default;
};

struct ImageHealthcheck {
  // ["CMD", arg...], ["CMD-SHELL", command] or ["NONE"]; empty means the
  // image inherits its base image's check (Docker writes none then).
  std::vector<std::string> test;
  std::int64_t interval_ns = 0;      // 0 when not set (Docker's default is 30 s)
  std::int64_t timeout_ns = 0;       // 0 when not set (30 s)
  std::int64_t start_period_ns = 0;  // 0 when not set
  int retries = 0;                   // 0 when not set (3)

  // HEALTHCHECK NONE: the image says it has no check.
  [[nodiscard]] bool disabled() const { return !test.empty() && test.front() == "NONE"; }
};

// One step of the build that made the image, oldest first.
struct ImageHistoryEntry {
  std::string created_by;  // e.g. "RUN /bin/sh -c apt-get install -y gcc # buildkit", "/bin/sh -c #(nop)  USER 1001"
  std::string comment;
  bool empty_layer = false;  // the step changed metadata only (ENV, USER, LABEL...)
};

struct ImageConfig {
  std::string os;            // "linux", "windows"
  std::string architecture;  // "amd64", "arm64"...
  std::string variant;       // "v8", "v7"; empty when none

  // config.User exactly as written: "", "root", "0", "1001", "1001:1001",
  // "appuser", "appuser:group". Empty means root.
  std::string user;
  std::vector<ImageEnvVar> env;  // config.Env in order
  // config.Labels, sorted by name.
  std::vector<std::pair<std::string, std::string>> labels;
  std::optional<ImageHealthcheck> healthcheck;         // absent when the config has none
  std::optional<std::vector<std::string>> entrypoint;  // absent when null or missing
  std::optional<std::vector<std::string>> cmd;
  std::string working_dir;
  std::vector<std::string> exposed_ports;  // "8080/tcp", sorted
  std::string stop_signal;
  std::string created;  // RFC 3339 as written; empty when absent
  std::vector<ImageHistoryEntry> history;

  // A HEALTHCHECK that runs: declared, and not NONE.
  [[nodiscard]] bool has_healthcheck() const {
    return healthcheck && !healthcheck->test.empty() && !healthcheck->disabled();
  }
  // The value of a label, or nullptr when the image has none by that name.
  [[nodiscard]] const std::string* label(std::string_view name) const;
};

// Parses a config blob. Fields may be null or missing (Docker writes null
// for an empty Env); a field of the wrong type, or text that is not a JSON
// object, is an invalid-input Status naming the field. Messages never quote
// values from the config, which may hold secrets.
Result<ImageConfig> parse_image_config(std::string_view text);

}  // namespace podguard

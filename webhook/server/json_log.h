// Structured logging: one JSON object per line on stdout, which is what
// Kubernetes log pipelines collect. Safe to call from any thread.
#pragma once

#include <mutex>
#include <optional>
#include <string_view>

#include "engine/document.h"

namespace podguard::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

std::optional<LogLevel> parse_log_level(std::string_view s);

class JsonLog {
 public:
  explicit JsonLog(LogLevel level = LogLevel::kInfo) : level_(level) {}

  bool enabled(LogLevel level) const { return level >= level_; }

  // {"time": ..., "level": ..., "event": ..., <fields>} on one line.
  void write(LogLevel level, std::string_view event, const Json& fields = Json::object());

 private:
  LogLevel level_;
  std::mutex mutex_;
};

}  // namespace podguard::server

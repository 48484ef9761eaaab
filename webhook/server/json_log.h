// Structured logging: one JSON object per line on stdout, which is what
// Kubernetes log pipelines collect. Safe to call from any thread.
//
// Request threads only format their line and queue it; one writer thread
// takes everything queued and writes it with as few write(2) calls as it
// can, letting a batch gather for up to kGatherTime. Writing under a lock
// from every request thread made the lock the webhook's bottleneck: a thread
// preempted inside write(2) held up every other request. Lines keep their
// order and are never split or interleaved. When the queue holds more than
// kMaxQueuedBytes (stdout blocked), writers wait for room instead of
// dropping lines or growing without bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "engine/reading/document.h"

namespace podguard::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

std::optional<LogLevel> parse_log_level(std::string_view s);

class JsonLog {
 public:
  // Lines go to file descriptor `fd` (stdout unless a test says otherwise).
  explicit JsonLog(LogLevel level = LogLevel::kInfo, int fd = 1);
  // Writes everything queued, then stops the writer thread.
  ~JsonLog();
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;

  bool enabled(LogLevel level) const { return level >= level_; }

  // {"time": ..., "level": ..., "event": ..., <fields>} on one line.
  void write(LogLevel level, std::string_view event, Json fields = Json::object());

  // Returns once every line queued before the call is written (before the
  // process exits without unwinding, say).
  void flush();

  static constexpr std::size_t kMaxQueuedBytes = std::size_t{8} << 20;
  // A line waits at most this long for others to share its write(2), unless
  // this much is queued or someone flushes.
  static constexpr std::chrono::milliseconds kGatherTime{5};
  static constexpr std::size_t kPromptBytes = std::size_t{64} << 10;

 private:
  void run();

  const LogLevel level_;
  const int fd_;
  std::mutex mutex_;
  std::condition_variable wake_writer_;   // lines queued, or stopping
  std::condition_variable wake_waiters_;  // lines written
  std::string queued_;
  std::size_t queued_lines_ = 0;   // lines ever queued
  std::size_t written_lines_ = 0;  // lines ever written (or dropped on a write error)
  std::size_t flushing_ = 0;       // threads waiting in flush()
  bool writer_idle_ = false;       // waiting for a first line
  bool writer_gathering_ = false;  // letting a batch gather
  bool stopping_ = false;
  std::thread writer_;
};

}  // namespace podguard::server

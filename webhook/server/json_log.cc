#include "server/json_log.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "engine/reading/json_writer.h"

namespace podguard::server {

std::optional<LogLevel> parse_log_level(std::string_view s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return std::nullopt;
}

namespace {

std::string_view name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// RFC 3339 UTC with milliseconds: 2026-11-22T17:40:00.123Z
std::string now_rfc3339() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return buf;
}

}  // namespace

JsonLog::JsonLog(LogLevel level, int fd) : level_(level), fd_(fd) {
  // The writer thread takes no signals: they belong to the threads that
  // wait for them (a thread with SIGTERM unblocked would die of it).
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  writer_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

JsonLog::~JsonLog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_one();
  writer_.join();
}

void JsonLog::write(LogLevel level, std::string_view event, Json fields) {
  if (!enabled(level)) return;
  // Written out directly rather than assembled as one more JSON object:
  // this runs for every decision.
  std::string text;
  text.reserve(256);
  text += "{\"time\":\"";
  text += now_rfc3339();
  text += "\",\"level\":\"";
  text += name(level);
  text += "\",\"event\":";
  append_json_string(text, event);
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.get_ref<const Json::object_t&>()) {
      if (key == "time" || key == "level" || key == "event") continue;  // the line's own
      text += ',';
      append_json_string(text, key);
      text += ':';
      append_json(text, value);
    }
  }
  text += "}\n";
  bool notify = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    wake_waiters_.wait(lock, [&] { return queued_.size() < kMaxQueuedBytes || stopping_; });
    queued_ += text;
    ++queued_lines_;
    notify = writer_idle_ || (writer_gathering_ && queued_.size() >= kPromptBytes);
  }
  // Only a sleeping writer needs the futex call, and one gathering a batch
  // only once the batch is big; a busy one finds the line when it comes back.
  if (notify) wake_writer_.notify_one();
}

void JsonLog::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  const std::size_t target = queued_lines_;
  ++flushing_;
  wake_writer_.notify_one();
  wake_waiters_.wait(lock, [&] { return written_lines_ >= target; });
  --flushing_;
}

void JsonLog::run() {
  std::string batch;
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    writer_idle_ = true;
    wake_writer_.wait(lock, [this] { return !queued_.empty() || stopping_; });
    writer_idle_ = false;
    if (queued_.empty()) return;  // stopping, everything written
    // Let a batch gather: one wake-up and one write(2) for many requests
    // instead of one per request, for at most kGatherTime of delay.
    writer_gathering_ = true;
    wake_writer_.wait_for(lock, kGatherTime,
                          [this] { return stopping_ || flushing_ > 0 || queued_.size() >= kPromptBytes; });
    writer_gathering_ = false;
    batch.swap(queued_);
    const std::size_t lines = queued_lines_;
    lock.unlock();
    wake_waiters_.notify_all();  // room in the queue again
    const char* p = batch.data();
    std::size_t left = batch.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // stdout closed or broken: nothing sensible to do but carry on
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    batch.clear();
    if (batch.capacity() > (std::size_t{1} << 20)) batch.shrink_to_fit();
    lock.lock();
    written_lines_ = lines;
    wake_waiters_.notify_all();
  }
}

}  // namespace podguard::server

#include "registry/deadline_timer.h"

namespace podguard::registry {

DeadlineTimer::DeadlineTimer() : thread_([this] { run(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::uint64_t DeadlineTimer::schedule(Clock::time_point when, std::function<void()> fn) {
  std::uint64_t id;
  bool earliest;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    const auto it = pending_.emplace(when, std::pair{id, std::move(fn)});
    when_.emplace(id, when);
    earliest = it == pending_.begin();
  }
  if (earliest) wake_.notify_all();
  return id;
}

bool DeadlineTimer::cancel(std::uint64_t id) {
  std::unique_lock lock(mutex_);
  if (const auto w = when_.find(id); w != when_.end()) {
    auto [first, last] = pending_.equal_range(w->second);
    for (auto it = first; it != last; ++it) {
      if (it->second.first == id) {
        pending_.erase(it);
        break;
      }
    }
    when_.erase(w);
    return true;
  }
  finished_.wait(lock, [&] { return running_ != id; });
  return false;
}

void DeadlineTimer::run_all_now() {
  {
    std::lock_guard lock(mutex_);
    decltype(pending_) now;
    for (auto& [when, entry] : pending_) {
      when_[entry.first] = Clock::time_point::min();
      now.emplace(Clock::time_point::min(), std::move(entry));
    }
    pending_.swap(now);
  }
  wake_.notify_all();
}

void DeadlineTimer::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    if (pending_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto next = pending_.begin();
    if (const Clock::time_point when = next->first; when > Clock::now()) {
      // A copy: cancel() may erase the entry while this waits.
      wake_.wait_until(lock, when);
      continue;
    }
    running_ = next->second.first;
    std::function<void()> fn = std::move(next->second.second);
    when_.erase(running_);
    pending_.erase(next);
    lock.unlock();
    fn();
    fn = nullptr;  // captures are released before cancel() returns
    lock.lock();
    running_ = 0;
    finished_.notify_all();
  }
}

}  // namespace podguard::registry

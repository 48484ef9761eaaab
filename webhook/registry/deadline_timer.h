// Runs callbacks at given times on one thread of its own: how the registry
// client cuts off a request at its deadline and how a batch of lookups
// answers when its budget runs out, without anyone blocking to wait.
//
// Thread-safe: schedule and cancel from any thread. Callbacks run one at a
// time on the timer's thread and should be short.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace podguard::registry {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;

  DeadlineTimer();
  // Stops the thread; callbacks still pending are dropped, not run.
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Runs `fn` at `when` (at once when it has passed). The id is for cancel().
  std::uint64_t schedule(Clock::time_point when, std::function<void()> fn);

  // Removes a pending callback: true when it had not run. When it is running
  // now, waits until it returns (so its captures may be released after), and
  // returns false; false too when it has run or the id is unknown. Must not
  // be called from a callback.
  bool cancel(std::uint64_t id);

  // Runs every pending callback now, in order, instead of at its time: how
  // requests in flight are cut off at shutdown.
  void run_all_now();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;      // the timer thread: new earliest entry, or stop
  std::condition_variable finished_;  // cancel(): the running callback returned
  std::multimap<Clock::time_point, std::pair<std::uint64_t, std::function<void()>>> pending_;
  std::map<std::uint64_t, Clock::time_point> when_;  // id -> its key in pending_
  std::uint64_t next_id_ = 1;
  std::uint64_t running_ = 0;  // the id whose callback runs now; 0 when none
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace podguard::registry

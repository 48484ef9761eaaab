// A fixed number of threads taking tasks from one bounded queue: where the
// registry client's fetches run, so that callers (the webhook's event loop)
// never wait on the network themselves.
//
// Thread-safe: post from any thread, tasks included.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace podguard::registry {

class WorkerPool {
 public:
  // A task is called once: with true to do its work, or with false when the
  // pool shuts down before it started (it should then report that it did
  // not run, e.g. fail its waiters).
  using Task = std::function<void(bool run)>;

  WorkerPool(int threads, std::size_t max_queued);
  // Lets the running tasks finish, calls the queued ones with false, joins.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; false (and the task is not kept) when max_queued tasks
  // already wait or the pool is shutting down.
  bool post(Task task);

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Task> queue_;
  std::size_t max_queued_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace podguard::registry

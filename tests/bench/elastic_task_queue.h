// A thread pool for cpp-httplib that grows with the connections it serves:
// the tuning of null_tls_server, the webhook benchmark's cpp-httplib baseline.
//
// cpp-httplib keeps a worker thread busy for as long as a keep-alive
// connection stays open, so a fixed pool smaller than the API server's
// connection count stalls requests. This pool starts a thread whenever no
// worker is idle (up to `max_threads`) and lets idle ones above `min_threads`
// exit, so it serves hundreds of connections yet stays small when quiet.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include <httplib.h>

namespace podguard::server {

class ElasticTaskQueue final : public httplib::TaskQueue {
 public:
  ElasticTaskQueue(std::size_t min_threads, std::size_t max_threads, std::chrono::seconds idle_exit);
  ~ElasticTaskQueue() override;

  void enqueue(std::function<void()> fn) override;
  // Runs every queued task, then waits for all workers to finish.
  void shutdown() override;

 private:
  void work();

  const std::size_t min_threads_;
  const std::size_t max_threads_;
  const std::chrono::seconds idle_exit_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable all_done_;
  std::deque<std::function<void()>> jobs_;
  std::size_t threads_ = 0;
  std::size_t idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace podguard::server

#include "elastic_task_queue.h"

#include <thread>

namespace podguard::server {

ElasticTaskQueue::ElasticTaskQueue(std::size_t min_threads, std::size_t max_threads, std::chrono::seconds idle_exit)
    : min_threads_(min_threads), max_threads_(std::max(max_threads, min_threads)), idle_exit_(idle_exit) {}

ElasticTaskQueue::~ElasticTaskQueue() { shutdown(); }

void ElasticTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mutex_);
  jobs_.push_back(std::move(fn));
  if (idle_ < jobs_.size() && threads_ < max_threads_ && !shutdown_) {
    ++threads_;
    std::thread([this] { work(); }).detach();  // shutdown() waits for it through threads_
  }
  lock.unlock();
  work_ready_.notify_one();
}

void ElasticTaskQueue::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    ++idle_;
    const bool woke = work_ready_.wait_for(lock, idle_exit_, [this] { return !jobs_.empty() || shutdown_; });
    --idle_;
    if (!jobs_.empty()) {
      std::function<void()> job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
      continue;
    }
    if (shutdown_ || (!woke && threads_ > min_threads_)) break;
  }
  if (--threads_ == 0) all_done_.notify_all();
}

void ElasticTaskQueue::shutdown() {
  std::unique_lock<std::mutex> lock(mutex_);
  shutdown_ = true;
  work_ready_.notify_all();
  all_done_.wait(lock, [this] { return threads_ == 0; });
}

}  // namespace podguard::server

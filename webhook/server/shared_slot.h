// A value read on every request and replaced now and then (the policy in
// force, swapped on a config reload).
//
// std::atomic<std::shared_ptr> would do, but in libstdc++ 12 every load
// takes a lock bit and bumps the shared reference count, so all request
// threads write the same two cache lines, and its relaxed unlock is a data
// race under ThreadSanitizer. Here each thread keeps its own reference,
// tagged with the generation it read; a request costs one atomic load and a
// compare, and only the first request after a swap takes the mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace podguard::server {

template <typename T>
class SharedSlot {
 public:
  void store(std::shared_ptr<const T> value) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ = std::move(value);
    // Generations are unique across all slots, so a thread's cached entry
    // can never pass for another slot's, even one at the same address.
    generation_.store(next_generation().fetch_add(1, std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // A reference of one's own (for rare callers: readiness, logging).
  std::shared_ptr<const T> load() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
  }

  // The value for the calling thread: the latest stored, or one stored
  // before it that this thread still holds. The pointer stays valid until
  // the same thread calls current() again on any slot of this type.
  const T* current() const { return refresh().value.get(); }

  // What current() last returned on the calling thread (from any slot of
  // this type: callers keep one slot per type), as a reference of one's
  // own: for a value that must outlive the request's turn (a deferred
  // answer). One reference count, no lock, and never a newer value than
  // the pointer the thread holds (null before its first current()).
  std::shared_ptr<const T> held_ref() const { return cache().value; }

 private:
  struct Cached {
    std::uint64_t generation = 0;
    std::shared_ptr<const T> value;
  };
  static Cached& cache() {
    thread_local Cached cached;
    return cached;
  }
  const Cached& refresh() const {
    Cached& cached = cache();
    const std::uint64_t generation = generation_.load(std::memory_order_acquire);
    if (cached.generation != generation) {
      std::lock_guard<std::mutex> lock(mutex_);
      cached.value = value_;
      cached.generation = generation_.load(std::memory_order_relaxed);
    }
    return cached;
  }
  static std::atomic<std::uint64_t>& next_generation() {
    static std::atomic<std::uint64_t> next{0};
    return next;
  }

  mutable std::mutex mutex_;
  std::shared_ptr<const T> value_;
  std::atomic<std::uint64_t> generation_{0};  // 0: nothing stored yet
};

}  // namespace podguard::server

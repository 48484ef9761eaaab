// The parts under ImageLookup: the bounded cache, the timer, the worker pool.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <string>

#include "registry/deadline_timer.h"
#include "registry/lru_cache.h"
#include "registry/worker_pool.h"

namespace podguard::registry {
namespace {

using Clock = std::chrono::steady_clock;

TEST_CASE("LruCache: bounded, least recently used out first, expired entries hidden but kept for revalidation") {
  LruCache<std::string, int> cache(2);
  const auto now = Clock::now();
  cache.put("a", 1);
  cache.put("b", 2);
  REQUIRE(cache.get("a", now) != nullptr);  // a is now the most recently used
  cache.put("c", 3);                        // pushes out b
  CHECK(cache.get("b", now) == nullptr);
  CHECK(*cache.get("a", now) == 1);
  CHECK(*cache.get("c", now) == 3);
  CHECK(cache.size() == 2);

  cache.put("c", 30, now + std::chrono::seconds(1));  // replaced, with an expiry
  CHECK(*cache.get("c", now) == 30);
  CHECK(cache.get("c", now + std::chrono::seconds(2)) == nullptr);
  REQUIRE(cache.get_stale("c") != nullptr);
  CHECK(*cache.get_stale("c") == 30);
  cache.erase("c");
  CHECK(cache.get_stale("c") == nullptr);

  LruCache<std::string, int> none(0);  // capacity 0: caches nothing
  none.put("a", 1);
  CHECK(none.get("a", now) == nullptr);
}

TEST_CASE("StringLruCache: looked up by string_view, the same entries as by string") {
  StringLruCache<int> cache(2);
  const auto now = Clock::now();
  cache.put("registry.example.com/app:1.0", 1);
  const std::string text = "image registry.example.com/app:1.0 and more";
  const std::string_view inside = std::string_view(text).substr(6, 28);
  REQUIRE(cache.get(inside, now) != nullptr);
  CHECK(*cache.get(inside, now) == 1);
  CHECK(cache.get(std::string_view("registry.example.com/app:1.1"), now) == nullptr);
  cache.put("b", 2);
  cache.put("c", 3);  // pushes out the least recently used: the first entry
  CHECK(cache.get(inside, now) == nullptr);
  CHECK(cache.size() == 2);
}

TEST_CASE("DeadlineTimer: callbacks in time order; cancel before, during and after") {
  DeadlineTimer timer;
  std::promise<void> first_ran;
  std::vector<int> order;
  std::mutex m;
  const auto now = Clock::now();
  const auto late = timer.schedule(now + std::chrono::hours(1), [&] { order.push_back(99); });
  timer.schedule(now + std::chrono::milliseconds(20), [&] {
    std::lock_guard lock(m);
    order.push_back(2);
    first_ran.set_value();
  });
  timer.schedule(now, [&] {
    std::lock_guard lock(m);
    order.push_back(1);
  });
  first_ran.get_future().wait();
  {
    std::lock_guard lock(m);
    CHECK(order == std::vector<int>{1, 2});
  }
  CHECK(timer.cancel(late));        // pending: removed
  CHECK_FALSE(timer.cancel(late));  // gone already

  // cancel() of a running callback waits for it to return.
  std::promise<void> entered;
  std::atomic<bool> released{false};
  std::atomic<bool> finished{false};
  const auto slow = timer.schedule(Clock::now(), [&] {
    entered.set_value();
    while (!released) std::this_thread::yield();
    finished = true;
  });
  entered.get_future().wait();
  auto canceller = std::async(std::launch::async, [&] { return timer.cancel(slow); });
  CHECK(canceller.wait_for(std::chrono::milliseconds(50)) == std::future_status::timeout);
  released = true;
  CHECK_FALSE(canceller.get());
  CHECK(finished);
}

TEST_CASE("DeadlineTimer::run_all_now runs what waits, at once") {
  DeadlineTimer timer;
  std::promise<void> ran;
  timer.schedule(Clock::now() + std::chrono::hours(1), [&] { ran.set_value(); });
  const auto start = Clock::now();
  timer.run_all_now();
  ran.get_future().wait();
  CHECK(Clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("WorkerPool: bounded queue; tasks never started are told so at shutdown") {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> busy;
  std::atomic<int> ran{0};
  std::atomic<int> dropped{0};
  {
    WorkerPool pool(1, 2);
    CHECK(pool.post([&](bool run) {
      busy.set_value();
      released.wait();
      ran += run;
    }));
    busy.get_future().wait();  // the one thread is taken
    for (int i = 0; i < 2; ++i) CHECK(pool.post([&](bool run) { (run ? ran : dropped) += 1; }));
    CHECK_FALSE(pool.post([&](bool) { FAIL("a task refused by post() must never be called"); }));
    release.set_value();
    // Leaving the scope: the running task finishes; queued ones run or are dropped.
  }
  CHECK(ran + dropped == 3);
  CHECK(ran >= 1);
}

}  // namespace
}  // namespace podguard::registry

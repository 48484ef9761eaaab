// The server's shared parts under concurrent use: the log's writer thread
// and the sharded metrics.
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/reading/document.h"
#include "server/json_log.h"
#include "server/metrics.h"
#include "server/shared_slot.h"

namespace podguard::server {
namespace {

// Reads everything from `fd` until end of file.
std::string drain(int fd) {
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    REQUIRE(end != std::string::npos);  // every line ends with a newline
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST_CASE("json log: lines from many threads arrive whole, each thread's in order, none lost") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  std::string received;
  std::thread reader([&] { received = drain(fds[0]); });
  constexpr int kThreads = 8;
  constexpr int kLines = 2000;
  {
    JsonLog log(LogLevel::kInfo, fds[1]);
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&log, t] {
        // Some lines longer than PIPE_BUF, which a pipe may split.
        const std::string padding(t % 2 == 0 ? 5000 : 10, 'x');
        for (int i = 0; i < kLines; ++i) log.write(LogLevel::kInfo, "test", {{"thread", t}, {"seq", i}, {"pad", padding}});
      });
    }
    for (auto& w : writers) w.join();
    log.write(LogLevel::kDebug, "below the level", {});
  }  // the destructor writes everything queued
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);

  const std::vector<std::string> lines = lines_of(received);
  REQUIRE(lines.size() == kThreads * kLines);
  std::map<int, int> next;
  for (const std::string& line : lines) {
    const Json j = Json::parse(line);  // throws on a torn line
    CHECK(j["event"] == "test");
    CHECK(j["level"] == "info");
    CHECK(j["time"].get<std::string>().size() == 24);
    const int t = j["thread"].get<int>();
    CHECK(j["seq"].get<int>() == next[t]);
    next[t] = j["seq"].get<int>() + 1;
  }
  for (int t = 0; t < kThreads; ++t) CHECK(next[t] == kLines);
}

TEST_CASE("json log: flush returns once earlier lines are written") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  JsonLog log(LogLevel::kWarn, fds[1]);
  log.write(LogLevel::kInfo, "filtered", {});
  log.write(LogLevel::kError, "first", {{"n", 1}});
  log.write(LogLevel::kWarn, "second", {});
  log.flush();
  char buf[4096];
  const ssize_t n = ::read(fds[0], buf, sizeof buf);  // the pipe already holds both lines
  REQUIRE(n > 0);
  const std::vector<std::string> lines = lines_of(std::string(buf, static_cast<std::size_t>(n)));
  REQUIRE(lines.size() == 2);
  CHECK(Json::parse(lines[0])["event"] == "first");
  CHECK(Json::parse(lines[0])["n"] == 1);
  CHECK(Json::parse(lines[1])["event"] == "second");
  CHECK(Json::parse(lines[1])["level"] == "warn");
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("json log: every line is one valid JSON object, whatever the fields hold") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  JsonLog log(LogLevel::kInfo, fds[1]);
  const std::string tricky = std::string("quote \" backslash \\ newline \n tab \t bell \a nul ") + '\0' + " end";
  log.write(LogLevel::kInfo, "odd \"event\"",
            {{"text", tricky},
             {"bad_utf8", std::string("caf\xc3 \xff")},
             {"utf8", "caf\xc3\xa9"},
             {"n", 1.5},
             {"list", Json::array({1, "two", nullptr})},
             {"nested", {{"a\"b", true}}},
             {"time", "not this one"},
             {"event", "nor this"}});
  log.flush();
  char buf[4096];
  const ssize_t n = ::read(fds[0], buf, sizeof buf);
  REQUIRE(n > 0);
  const std::vector<std::string> lines = lines_of(std::string(buf, static_cast<std::size_t>(n)));
  REQUIRE(lines.size() == 1);
  const Json line = Json::parse(lines[0]);  // throws, failing the test, on invalid JSON
  CHECK(line["event"] == "odd \"event\"");
  CHECK(line["text"] == tricky);
  CHECK(line["bad_utf8"] == "caf\xef\xbf\xbd \xef\xbf\xbd");  // invalid bytes become U+FFFD
  CHECK(line["utf8"] == "caf\xc3\xa9");
  CHECK(line["n"] == 1.5);
  CHECK(line["list"] == Json::array({1, "two", nullptr}));
  CHECK(line["nested"]["a\"b"] == true);
  CHECK(line["time"] != "not this one");  // the line's own fields win
  CHECK(lines[0].find("nor this") == std::string::npos);
  ::close(fds[0]);
  ::close(fds[1]);
}

// The value of the sample `name` in Prometheus text, or -1.
double sample(const std::string& text, const std::string& name) {
  const std::size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

TEST_CASE("metrics: counts from many threads add up across shards") {
  Metrics metrics;
  constexpr int kThreads = 12;  // more threads than shards
  constexpr int kEach = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < kEach; ++i) {
        metrics.observe_request("Pod", "CREATE", i % 4 == 0 ? "denied" : "allowed", 0.0002);
        if (i % 4 == 0) metrics.count_violation("run-as-non-root", "deny", false);
        if (i % 10 == 0) metrics.count_exemption("probes-required", "config");
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = metrics.render();
  const std::string denied = "{kind=\"Pod\",operation=\"CREATE\",decision=\"denied\"}";
  const std::string allowed = "{kind=\"Pod\",operation=\"CREATE\",decision=\"allowed\"}";
  CHECK(sample(text, "podguard_admission_requests_total" + denied) == kThreads * kEach / 4);
  CHECK(sample(text, "podguard_admission_requests_total" + allowed) == kThreads * kEach * 3 / 4);
  CHECK(sample(text, "podguard_admission_duration_seconds_count" + allowed) == kThreads * kEach * 3 / 4);
  // 0.0002 s falls in the 0.00025 bucket and every one above, not in 0.0001.
  CHECK(sample(text, "podguard_admission_duration_seconds_bucket{kind=\"Pod\",operation=\"CREATE\",decision=\"denied\","
                     "le=\"0.0001\"}") == 0);
  CHECK(sample(text, "podguard_admission_duration_seconds_bucket{kind=\"Pod\",operation=\"CREATE\",decision=\"denied\","
                     "le=\"0.00025\"}") == kThreads * kEach / 4);
  CHECK(sample(text, "podguard_violations_total{rule=\"run-as-non-root\",action=\"deny\",ratcheted=\"false\"}") ==
        kThreads * kEach / 4);
  CHECK(sample(text, "podguard_exemptions_total{rule=\"probes-required\",source=\"config\"}") == kThreads * kEach / 10);
  // Each series appears once, however many shards counted it.
  const std::string series = "podguard_admission_requests_total" + denied + " ";
  CHECK(text.find(series) == text.rfind(series));
}

TEST_CASE("metrics: distinct label sets are capped, the rest counted as other") {
  Metrics metrics;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&metrics, t] {
      for (int i = 0; i < 400; ++i) metrics.count_violation("rule-" + std::to_string(t * 400 + i), "warn", false);
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = metrics.render();
  std::size_t series = 0;
  for (std::size_t at = text.find("\npodguard_violations_total{"); at != std::string::npos;
       at = text.find("\npodguard_violations_total{", at + 1)) {
    ++series;
  }
  CHECK(series <= 513);  // 512 named series plus "other"
  const double other = sample(text, "podguard_violations_total{rule=\"other\",action=\"other\",ratcheted=\"other\"}");
  CHECK(other == 1600 - 512);
}

struct Versioned {
  int version;
  std::vector<int> payload;  // each element equals version: a torn read would show
};

TEST_CASE("shared slot: readers see whole values and pick up a swap on their next read") {
  SharedSlot<Versioned> slot;
  CHECK(slot.current() == nullptr);
  CHECK(slot.load() == nullptr);
  slot.store(std::make_shared<const Versioned>(Versioned{1, std::vector<int>(64, 1)}));
  REQUIRE(slot.current() != nullptr);
  CHECK(slot.current()->version == 1);

  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 6; ++t) {
    readers.emplace_back([&] {
      int last = 0;
      while (!stop.load()) {
        const Versioned* v = slot.current();
        for (int x : v->payload) bad += x != v->version ? 1 : 0;
        bad += v->version < last ? 1 : 0;  // never goes back
        last = v->version;
        ++reads;
      }
    });
  }
  // The swaps must race with reads: wait until the readers are reading (on
  // a loaded machine the writer could otherwise finish before any started).
  while (reads.load() < 6 * 16) std::this_thread::yield();
  for (int version = 2; version <= 200; ++version) {
    slot.store(std::make_shared<const Versioned>(Versioned{version, std::vector<int>(64, version)}));
    std::this_thread::yield();
  }
  stop = true;
  for (auto& r : readers) r.join();
  CHECK(bad == 0);
  CHECK(reads > 0);
  CHECK(slot.current()->version == 200);  // this thread reads the latest
  CHECK(slot.load()->version == 200);

  // Another slot of the same type, even at the same address, is never
  // mistaken for this one.
  SharedSlot<Versioned> other;
  other.store(std::make_shared<const Versioned>(Versioned{7, {}}));
  CHECK(other.current()->version == 7);
  CHECK(slot.current()->version == 200);
  CHECK(other.current()->version == 7);
}

TEST_CASE("shared slot: held_ref is what current() last gave this thread, held past a swap") {
  SharedSlot<Versioned> slot;
  slot.store(std::make_shared<const Versioned>(Versioned{1, {1}}));
  const Versioned* read = slot.current();
  const std::shared_ptr<const Versioned> held = slot.held_ref();
  REQUIRE(held != nullptr);
  CHECK(held.get() == read);
  // A swap after this thread's read: held_ref still gives what it read
  // (the pointer it may still be using), and keeps it alive.
  slot.store(std::make_shared<const Versioned>(Versioned{2, {2}}));
  CHECK(slot.held_ref().get() == read);
  CHECK(slot.current()->version == 2);  // the next read picks up the swap
  CHECK(held->version == 1);            // still alive: held
  CHECK(slot.held_ref()->version == 2);
}

}  // namespace
}  // namespace podguard::server

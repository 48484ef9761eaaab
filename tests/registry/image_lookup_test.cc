// ImageLookup: platforms, caches, single-flight, batches within a budget,
// the asynchronous form, metrics.
#include <doctest/doctest.h>

#include <future>
#include <thread>

#include "registry/fake_registry.h"
#include "registry/lookup_fixture.h"

namespace podguard::testing {
namespace {

using registry::ImageLookup;
using registry::ImageResult;
using registry::RegistryOptions;

ConfigSpec spec_for(const std::string& architecture, const std::string& variant = "",
                    const std::string& user = "1001") {
  ConfigSpec s;
  s.architecture = architecture;
  s.variant = variant;
  s.user = user;
  return s;
}

TEST_CASE("an index: the wanted platforms' images, attestations skipped, what is offered") {
  FakeRegistry reg;
  const Push multi = multi_platform("app", "1", {spec_for("amd64", "", "1001"), spec_for("arm64", "v8", "1002")}, true);
  const Push arm_only = multi_platform("arm-only", "1", {spec_for("arm64", "v8")}, false, false);
  reg.push(multi);
  reg.push(arm_only);

  auto lookup = make_lookup(local_options({reg.host()}));  // platforms: linux/amd64
  const ImageFacts& f = facts(lookup->lookup(reg.host() + "/app:1"));
  CHECK(f.multi_platform);
  CHECK(f.digest == multi.digest());
  REQUIRE(f.offered.size() == 2);
  CHECK(f.offered[1].to_string() == "linux/arm64/v8");
  REQUIRE(f.images.size() == 1);
  CHECK(f.images[0].platform.to_string() == "linux/amd64");
  CHECK(f.images[0].manifest_digest == multi.manifests[0].digest);
  CHECK(f.images[0].config->user == "1001");
  // Only the wanted platform's manifest and config were fetched.
  CHECK(reg.count("GET", multi.manifests[1].digest) == 0);
  CHECK(reg.count("GET", multi.manifests[2].digest) == 0);

  const ImageFacts& arm = facts(lookup->lookup(reg.host() + "/arm-only:1"));
  CHECK(arm.images.empty());  // image-platform's case
  REQUIRE(arm.offered.size() == 1);
  CHECK(arm.offered[0].to_string() == "linux/arm64/v8");

  RegistryOptions both = local_options({reg.host()});
  both.platforms = {"linux/arm64", "linux/amd64"};
  const ImageFacts& two = facts(make_lookup(both)->lookup(reg.host() + "/app:1"));
  REQUIRE(two.images.size() == 2);
  CHECK(two.images[0].config->user == "1002");  // in the order wanted
  CHECK(two.images[1].config->user == "1001");

  RegistryOptions all = local_options({reg.host()});
  all.platforms = {};
  CHECK(facts(make_lookup(all)->lookup(reg.host() + "/app:1")).images.size() == 2);  // the attestation is not one

  // A single manifest for another platform: offered, not judged.
  reg.push(single_image("arm-single", "1", spec_for("arm64", "v8")));
  const ImageFacts& single = facts(lookup->lookup(reg.host() + "/arm-single:1"));
  CHECK(single.images.empty());
  CHECK(single.offered.at(0).to_string() == "linux/arm64/v8");
}

TEST_CASE("caches: images by digest and tags within their TTL answer without the network") {
  FakeRegistry reg;
  const Push app = single_image("app", "1", spec_for("amd64"));
  reg.push(app);
  auto lookup = make_lookup(local_options({reg.host()}));
  CHECK_FALSE(lookup->cached(reg.host() + "/app:1"));
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.size() == 1);
  const std::size_t requests = reg.seen().size();

  const ImageResult first = lookup->lookup(reg.host() + "/app:1");
  for (const std::string& image : {reg.host() + "/app:1", reg.host() + "/app@" + app.digest()}) {
    INFO(image);
    CHECK(lookup->lookup(image).value() == first.value());  // the cached facts themselves, shared
    const auto hit = lookup->cached(image);
    REQUIRE(hit);
    CHECK(facts(*hit).digest == app.digest());
  }
  CHECK(reg.seen().size() == requests);
  const auto m = lookup->metrics();
  CHECK(m.cache_hits.at("image") == 5);
  CHECK(m.fetches.at({reg.host(), "ok"}) == 1);
  CHECK(m.fetch_seconds.at(reg.host()).count == 1);
}

TEST_CASE("cached() answers each time it is asked: keys remembered per reference, failures, invalid references") {
  FakeRegistry reg;
  reg.push(single_image("app", "1", spec_for("amd64")));
  auto lookup = make_lookup(local_options({reg.host()}));
  const std::string tag = reg.host() + "/app:1", missing = reg.host() + "/gone:1";
  for (int round = 0; round < 2; ++round) {  // the second round from the remembered keys
    INFO(round);
    CHECK_FALSE(lookup->cached(tag));
    CHECK_FALSE(lookup->cached(missing));
    const auto invalid = lookup->cached("Not A Reference");
    REQUIRE(invalid);
    CHECK(invalid->error().code() == StatusCode::kInvalidInput);
  }
  CHECK(lookup->lookup(tag).ok());
  CHECK(lookup->lookup(missing).error().code() == StatusCode::kNotFound);
  for (int round = 0; round < 2; ++round) {
    INFO(round);
    const auto hit = lookup->cached(tag);
    REQUIRE(hit);
    CHECK(facts(*hit).name == reg.host() + "/app");
    const auto failure = lookup->cached(missing);
    REQUIRE(failure);
    CHECK(failure->error().code() == StatusCode::kNotFound);
    CHECK(failure->error().message().rfind(missing, 0) == 0);  // prefixed with the image as asked
  }
}

TEST_CASE("an expired tag is checked with HEAD; a moved tag is fetched again") {
  FakeRegistry reg;
  reg.push(single_image("app", "1", spec_for("amd64", "", "1001")));
  RegistryOptions o = local_options({reg.host()});
  o.cache.tag_ttl_seconds = 1;
  auto lookup = make_lookup(o);
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.at(0).config->user == "1001");
  const std::size_t gets = reg.count("GET", "/manifests/");

  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the TTL under test
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.at(0).config->user == "1001");
  CHECK(reg.count("HEAD", "/manifests/1") == 1);
  CHECK(reg.count("GET", "/manifests/") == gets);
  CHECK(lookup->metrics().cache_hits.at("revalidated") == 1);

  reg.push(single_image("app", "1", spec_for("amd64", "", "2002")));  // the tag moves
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.at(0).config->user == "2002");
  CHECK(reg.count("HEAD", "/manifests/1") == 2);
}

TEST_CASE("failures are cached for errorTtl, and not at all with 0") {
  FakeRegistry reg;
  auto lookup = make_lookup(local_options({reg.host()}));
  const std::string missing = reg.host() + "/gone:1";
  CHECK(lookup->lookup(missing).error().code() == StatusCode::kNotFound);
  CHECK(lookup->lookup(missing).error().code() == StatusCode::kNotFound);
  CHECK(reg.count("GET", "/gone/") == 1);
  CHECK(lookup->metrics().cache_hits.at("failure") == 1);
  CHECK(lookup->metrics().fetches.at({reg.host(), "not_found"}) == 1);

  RegistryOptions o = local_options({reg.host()});
  o.cache.error_ttl_seconds = 0;
  auto uncached = make_lookup(o);
  CHECK(uncached->lookup(missing).error().code() == StatusCode::kNotFound);
  CHECK(uncached->lookup(missing).error().code() == StatusCode::kNotFound);
  CHECK(reg.count("GET", "/gone/") == 3);
}

TEST_CASE("the cache is bounded: past maxEntries the least recently used image is fetched again") {
  FakeRegistry reg;
  for (const char* tag : {"1", "2", "3"}) reg.push(single_image("app", tag, spec_for("amd64", "", tag)));
  RegistryOptions o = local_options({reg.host()});
  o.cache.max_entries = 2;
  auto lookup = make_lookup(o);
  for (const char* tag : {"1", "2", "3"}) CHECK(facts(lookup->lookup(reg.host() + "/app:" + tag)).images.size() == 1);
  CHECK(lookup->cached(reg.host() + "/app:3"));
  CHECK(lookup->cached(reg.host() + "/app:2"));
  CHECK_FALSE(lookup->cached(reg.host() + "/app:1"));
}

TEST_CASE("concurrent lookups of one image share one fetch") {
  FakeRegistry reg;
  reg.push(single_image("app", "1", spec_for("amd64")));
  auto lookup = make_lookup(local_options({reg.host()}));
  reg.hold_manifests();
  std::vector<std::future<ImageResult>> results;
  for (int i = 0; i < 5; ++i) {
    results.push_back(std::async(std::launch::async, [&] { return lookup->lookup(reg.host() + "/app:1"); }));
  }
  REQUIRE(reg.wait_held(1));
  // Every caller has joined once the shared count says so.
  for (int spin = 0; spin < 1000 && lookup->metrics().shared_fetches < 4; ++spin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  CHECK(lookup->metrics().shared_fetches == 4);
  reg.release();
  for (auto& f : results) CHECK(facts(f.get()).images.size() == 1);
  CHECK(reg.count("GET", "/manifests/1") == 1);
}

TEST_CASE("a review's images are looked up in parallel") {
  FakeRegistry reg;
  for (const char* name : {"a", "b", "c"}) reg.push(single_image(name, "1", spec_for("amd64")));
  auto lookup = make_lookup(local_options({reg.host()}));
  reg.hold_manifests();
  std::promise<std::vector<ImageResult>> answered;
  lookup->lookup_async({reg.host() + "/a:1", reg.host() + "/b:1", reg.host() + "/c:1", reg.host() + "/a:1"},
                       [&](std::vector<ImageResult> r) { answered.set_value(std::move(r)); });
  CHECK(reg.wait_held(3));  // three fetches in the registry at once
  reg.release();
  const auto results = answered.get_future().get();
  REQUIRE(results.size() == 4);
  for (const auto& r : results) CHECK(facts(r).images.size() == 1);
  CHECK(results[3].value() == results[0].value());
}

TEST_CASE("lookup_async never blocks: a cached review answers at once, an uncached one later") {
  FakeRegistry reg;
  reg.push(single_image("app", "1", spec_for("amd64")));
  auto lookup = make_lookup(local_options({reg.host()}));
  reg.hold_manifests();
  std::promise<std::vector<ImageResult>> answered;
  const auto start = std::chrono::steady_clock::now();
  lookup->lookup_async({reg.host() + "/app:1"}, [&](std::vector<ImageResult> r) { answered.set_value(std::move(r)); });
  CHECK(seconds_since(start) < 1);  // the registry holds the fetch: blocking would mean waiting for release()
  auto future = answered.get_future();
  CHECK(future.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  reg.release();
  CHECK(facts(future.get().at(0)).images.size() == 1);

  // All cached: the callback runs before lookup_async returns, on this thread.
  std::thread::id ran_on;
  bool called = false;
  lookup->lookup_async({reg.host() + "/app:1", "not a reference"}, [&](std::vector<ImageResult> r) {
    called = true;
    ran_on = std::this_thread::get_id();
    CHECK(r.at(0).ok());
    CHECK(r.at(1).error().code() == StatusCode::kInvalidInput);
  });
  CHECK(called);
  CHECK(ran_on == std::this_thread::get_id());
  bool empty_called = false;
  lookup->lookup_async({}, [&](std::vector<ImageResult> r) { empty_called = r.empty(); });
  CHECK(empty_called);
}

TEST_CASE("a batch answers at its budget: the late images deadline-exceeded, their fetches finish into the cache") {
  FakeRegistry slow;
  FakeRegistry fast;
  slow.push(single_image("app", "1", spec_for("amd64")));
  fast.push(single_image("app", "1", spec_for("amd64")));
  auto lookup = make_lookup(local_options({slow.host(), fast.host()}));
  slow.hold_manifests();
  const auto start = std::chrono::steady_clock::now();
  const auto results =
      lookup->lookup_all({slow.host() + "/app:1", fast.host() + "/app:1"}, std::chrono::milliseconds(300));
  const double took = seconds_since(start);
  CHECK(took >= 0.29);
  CHECK(took < 2);  // the slow registry holds its answer until release()
  CHECK(results[0].error().code() == StatusCode::kDeadlineExceeded);
  CHECK(failure(results[0]) == slow.host() + "/app:1: registry " + slow.host() +
                                   " did not answer within 300 ms (the lookup goes on and is cached)");
  CHECK(facts(results[1]).images.size() == 1);
  CHECK(lookup->metrics().budget_exceeded.at(slow.host()) == 1);

  slow.release();
  // The fetch goes on after the batch gave up, and the next review finds it cached.
  for (int spin = 0; spin < 1000 && !lookup->cached(slow.host() + "/app:1"); ++spin) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(lookup->cached(slow.host() + "/app:1"));
}

TEST_CASE("past max_queued waiting fetches, new ones fail at once instead of piling up") {
  FakeRegistry reg;
  for (const char* name : {"a", "b", "c"}) reg.push(single_image(name, "1", spec_for("amd64")));
  RegistryOptions o = local_options({reg.host()});
  o.workers = 1;
  o.max_queued = 1;
  auto lookup = make_lookup(o);
  reg.hold_manifests();
  std::promise<std::vector<ImageResult>> first, second;
  lookup->lookup_async({reg.host() + "/a:1"}, [&](auto r) { first.set_value(std::move(r)); });
  REQUIRE(reg.wait_held(1));                                                                     // the worker is busy
  lookup->lookup_async({reg.host() + "/b:1"}, [&](auto r) { second.set_value(std::move(r)); });  // queued
  const ImageResult third = lookup->lookup(reg.host() + "/c:1");
  CHECK(third.error().code() == StatusCode::kUnavailable);
  CHECK(failure(third).find("registry " + reg.host() + " was not asked: 1 lookups are already waiting") !=
        std::string::npos);
  CHECK(lookup->metrics().rejected == 1);
  reg.release();
  CHECK(first.get_future().get().at(0).ok());
  CHECK(second.get_future().get().at(0).ok());
}

TEST_CASE("destroying the lookup cuts off its requests and answers pending batches at once") {
  SilentPort silent;
  RegistryOptions o = local_options({silent.host()}, nullptr, 10);
  o.workers = 1;
  auto lookup = make_lookup(o);
  std::promise<std::vector<ImageResult>> running, queued;
  lookup->lookup_async(
      {silent.host() + "/a:1"}, [&](auto r) { running.set_value(std::move(r)); }, std::chrono::seconds(30));
  lookup->lookup_async(
      {silent.host() + "/b:1"}, [&](auto r) { queued.set_value(std::move(r)); }, std::chrono::seconds(30));
  const auto start = std::chrono::steady_clock::now();
  lookup.reset();
  CHECK(seconds_since(start) < 3);  // the request in flight is cut off, not waited for (10 s)
  for (auto* answer : {&running, &queued}) {
    const auto r = answer->get_future().get();
    CHECK(r.at(0).error().code() == StatusCode::kUnavailable);
    CHECK(failure(r.at(0)).find("podguard is shutting down") != std::string::npos);
  }
}

TEST_CASE("what a registry sends is made printable before it reaches a message") {
  FakeRegistry registry;
  // A manifest whose media type carries terminal escapes (a registry that
  // wants to repaint the terminal of whoever reads podguard's output).
  const std::string hostile = "application/vnd.evil\x1b]0;pwned\x07\x1b[31m";
  nlohmann::ordered_json doc = {{"schemaVersion", 2}, {"mediaType", hostile}, {"config", {}}, {"layers", nlohmann::ordered_json::array()}};
  const std::string content = doc.dump();
  Push p;
  p.repository = "acme/evil";
  p.manifests.push_back({"1.0", hostile, content, sha256(content)});
  registry.push(p);
  auto lookup = make_lookup(local_options({registry.host()}));
  const registry::ImageResult r = lookup->lookup(registry.host() + "/acme/evil:1.0");
  REQUIRE(!r.ok());
  const std::string text = r.status().to_string();
  INFO(text);
  CHECK(text.find('\x1b') == std::string::npos);
  CHECK(text.find('\x07') == std::string::npos);
  CHECK(text.find("application/vnd.evil?]0;pwned??[31m") != std::string::npos);
}

}  // namespace
}  // namespace podguard::testing

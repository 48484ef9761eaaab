// `podguard serve` with images.lookup on, as the API server meets it: image
// findings in the answer, the `images` audit annotation with the digests,
// lookup metrics, the budget against a registry that never answers (and the
// reviews of other connections on the same worker not waiting behind it),
// the API server's own ?timeout=, images.onError, config reloads that turn
// lookups on, rotated credentials, a shutdown while a review waits, and
// Debian's docker-registry as the registry.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "registry/docker_registry.h"
#include "registry/fake_registry.h"
#include "webhook_process.h"

namespace podguard::testing {
namespace {

using Clock = std::chrono::steady_clock;

const bool kIgnoreSigpipe = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

// A PolicyConfig that looks images up in `hosts` over plain HTTP.
std::string lookup_config(const std::vector<std::string>& hosts, const std::string& extra = "",
                          double timeout = 2, const std::string& on_error = "warn") {
  std::string insecure;
  for (const std::string& h : hosts) insecure += (insecure.empty() ? "" : ", ") + h;
  return "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\nimages:\n  lookup: true\n"
         "  insecureRegistries: [" + insecure + "]\n  timeoutSeconds: " + std::to_string(timeout) +
         "\n  onError: " + on_error + "\n" + extra;
}

// A pod that passes every rule on its spec alone, except that it leaves the
// user to the image: runAsNonRoot: true, no runAsUser.
Json pod(const std::vector<std::string>& images) {
  Json containers = Json::array();
  int n = 0;
  for (const std::string& image : images) {
    containers.push_back(
        {{"name", "app" + std::to_string(n++)},
         {"image", image},
         {"securityContext",
          {{"allowPrivilegeEscalation", false},
           {"readOnlyRootFilesystem", true},
           {"capabilities", {{"drop", {"ALL"}}}}}},
         {"resources", {{"requests", {{"cpu", "100m"}, {"memory", "64Mi"}}}, {"limits", {{"memory", "64Mi"}}}}},
         {"livenessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", 8080}}}}},
         {"readinessProbe", {{"httpGet", {{"path", "/readyz"}, {"port", 8080}}}}}});
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", "api"}, {"namespace", "shop"}}},
          {"spec",
           {{"securityContext", {{"runAsNonRoot", true}, {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
            {"containers", containers}}}};
}

Json review(const Json& object, const std::string& uid = "uid-1") {
  return Json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", uid},
                {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                {"namespace", "shop"},
                {"operation", "CREATE"},
                {"object", object}}}};
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The `images` audit annotation of an answer, "" when there is none.
std::string audit_images(const Json& answer) {
  const Json& audit = answer["response"].value("auditAnnotations", Json::object());
  return audit.contains("images") ? std::string(audit["images"].get<std::string_view>()) : std::string();
}

std::string deny_message(const Json& answer) {
  return std::string(answer["response"]["status"]["message"].get<std::string_view>());
}

std::string warnings_of(const Json& answer) {
  std::string out;
  for (const Json& w : answer["response"].value("warnings", Json::array())) out += std::string(w.get<std::string_view>()) + "\n";
  return out;
}

}  // namespace

TEST_CASE("serve with lookups: the image's USER decides run-as-non-root, digests go to the audit log") {
  FakeRegistry registry;
  registry.push(single_image("acme/api", "1.4.2", passing_image()));
  ConfigSpec named = passing_image();
  named.user = "app";  // a name: the kubelet cannot verify runAsNonRoot
  registry.push(single_image("acme/named", "1.0", named));
  Webhook webhook({.config = lookup_config({registry.host()})});
  const std::string good = registry.host() + "/acme/api:1.4.2";
  const std::string by_name = registry.host() + "/acme/named:1.0";

  SUBCASE("a numeric non-root USER: allowed, with what the tag resolved to in the audit annotation") {
    const Json answer = webhook.admit(review(pod({good})));
    INFO(answer.dump(2));
    CHECK(answer["response"]["allowed"] == true);
    const std::string images(audit_images(answer));
    CHECK(contains(images, good + "@sha256:"));
    // The second review of the image needs no registry: answered from the cache.
    const std::size_t fetched = registry.count("GET", "/manifests/");
    const Json again = webhook.admit(review(pod({good}), "uid-2"));
    CHECK(again["response"]["allowed"] == true);
    CHECK(registry.count("GET", "/manifests/") == fetched);
    const std::string m = webhook.metrics_with({"podguard_image_reviews_total{outcome=\"cached\"} 1"});
    CHECK(contains(m, "podguard_image_reviews_total{outcome=\"cached\"} 1"));
    CHECK(contains(m, "podguard_image_reviews_total{outcome=\"fetched\"} 1"));
    CHECK(contains(m, "podguard_image_lookups_total{registry=\"" + registry.host() + "\",result=\"ok\"} 1"));
    CHECK(contains(m, "podguard_image_lookup_cache_hits_total{source=\"image\"} 1"));
    CHECK(contains(m, "podguard_image_lookup_duration_seconds_count{registry=\"" + registry.host() + "\"} 1"));
    CHECK(contains(m, "podguard_http_requests_deferred_total{listener=\"https\"} 1"));
    // The decision's log line names the lookup and the digests.
    const auto line = webhook.process().wait_for_event("admission", 5000, 1);
    REQUIRE(line);
    CHECK(line->value("image_lookup", "") == "cached");
    CHECK(contains(line->value("images", "").c_str(), "@sha256:"));
  }
  SUBCASE("an image pinned by digest is in the object already: the annotation leaves it out") {
    const std::string images = audit_images(webhook.admit(review(pod({good}))));
    REQUIRE(contains(images, "@sha256:"));
    const std::string digest = images.substr(images.find("@sha256:") + 1);
    const Json pinned = webhook.admit(review(pod({good, registry.host() + "/acme/api@" + digest}), "uid-pinned"));
    CHECK(pinned["response"]["allowed"] == true);
    CHECK(audit_images(pinned) == good + "@" + digest);
  }
  SUBCASE("a USER name with runAsNonRoot: denied, saying the kubelet would refuse to start it") {
    const Json answer = webhook.admit(review(pod({by_name})));
    INFO(answer.dump(2));
    CHECK(answer["response"]["allowed"] == false);
    const std::string message(deny_message(answer));
    CHECK(contains(message, "[run-as-non-root]"));
    CHECK(contains(message, "CreateContainerConfigError"));
    CHECK(contains(message, by_name));
  }
  SUBCASE("a reference the registry does not know: image-resolvable denies") {
    const Json answer = webhook.admit(review(pod({registry.host() + "/acme/missing:1.0"})));
    INFO(answer.dump(2));
    CHECK(answer["response"]["allowed"] == false);
    CHECK(contains(deny_message(answer), "[image-resolvable]"));
    CHECK(contains(audit_images(answer), "not found in " + registry.host()));
  }
}

TEST_CASE("serve with lookups: a registry that never answers costs its review the budget, and no other review") {
  FakeRegistry registry;
  registry.push(single_image("acme/api", "1.4.2", passing_image()));
  SilentPort silent;
  // One event loop: the waiting review and the others share it.
  Webhook webhook({.config = lookup_config({registry.host(), silent.host()}, "", 1.5, "warn"), .extra = {"--workers", "1"}});
  const std::string stuck = silent.host() + "/acme/api:1.4.2";

  auto waiting = std::async(std::launch::async, [&] {
    const auto start = Clock::now();
    const Json answer = webhook.admit(review(pod({stuck}), "uid-stuck"));
    return std::make_pair(answer, seconds_since(start));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the stuck review is waiting now
  for (int i = 0; i < 5; ++i) {
    const auto start = Clock::now();
    const Json answer = webhook.admit(review(pod({registry.host() + "/acme/api:1.4.2"}), "uid-other"));
    CHECK(answer["response"]["allowed"] == true);
    CHECK_MESSAGE(seconds_since(start) < 0.5, "another review waited " << seconds_since(start) << " s");
  }
  CHECK(waiting.wait_for(std::chrono::seconds(0)) != std::future_status::ready);  // still waiting on the registry
  const auto [answer, took] = waiting.get();
  INFO(answer.dump(2));
  CHECK(took >= 1.3);
  CHECK(took < 3.0);
  CHECK(answer["response"]["allowed"] == true);  // onError: warn
  const std::string warnings = warnings_of(answer);
  CHECK(contains(warnings, "[image-resolvable]"));
  CHECK(contains(warnings, silent.host()));
  CHECK(contains(audit_images(answer), "not looked up (" + silent.host()));
  const std::string m = webhook.metrics_with({"podguard_image_reviews_total{outcome=\"failed\"} 1"});
  CHECK(contains(m, "podguard_image_reviews_total{outcome=\"failed\"} 1"));
  // The review's budget and the fetch's own timeout are both 1.5 s: which
  // fires first is a race, and either is counted against the registry.
  CHECK((contains(m, "podguard_image_lookup_budget_exceeded_total{registry=\"" + silent.host() + "\"} 1") ||
         contains(m, "podguard_image_lookups_total{registry=\"" + silent.host() +
                         "\",result=\"deadline_exceeded\"} 1")));
}

TEST_CASE("serve with lookups: the budget is cut to the API server's ?timeout=, and onError: deny denies") {
  SilentPort silent;
  Webhook webhook({.config = lookup_config({silent.host()}, "", 20, "deny")});
  const auto start = Clock::now();
  const Json answer = webhook.admit(review(pod({silent.host() + "/acme/api:1.4.2"})), "/validate?timeout=2s");
  const double took = seconds_since(start);
  INFO(answer.dump(2));
  CHECK(took >= 1.3);  // 2 s less the 0.5 s left to decide and answer
  CHECK(took < 2.0);   // within what the API server waits
  CHECK(answer["response"]["allowed"] == false);
  const std::string message(deny_message(answer));
  CHECK(contains(message, "[image-resolvable]"));
  CHECK(contains(message, silent.host()));
}

TEST_CASE("serve with lookups: a refusing registry with onError: allow judges the spec alone") {
  const std::string refusing = refusing_host();
  Webhook webhook({.config = lookup_config({refusing}, "", 2, "allow")});
  const Json answer = webhook.admit(review(pod({refusing + "/acme/api:1.4.2"})));
  INFO(answer.dump(2));
  CHECK(answer["response"]["allowed"] == true);
  CHECK(!contains(warnings_of(answer), "[image-resolvable]"));
}

TEST_CASE("serve with lookups: a reload turns lookups on, and rotated credentials make a new lookup") {
  FakeRegistry registry;
  registry.push(single_image("acme/api", "1.4.2", passing_image()));
  Webhook webhook;
  const std::string image = registry.host() + "/acme/api:1.4.2";
  const Json before = webhook.admit(review(pod({image})));
  CHECK(!before["response"].contains("auditAnnotations"));
  CHECK(registry.count("GET", "/manifests/") == 0);

  const fs::path credentials = webhook.dir() / "config.json";
  write(credentials, R"({"auths": {"registry.example.com": {"auth": "dXNlcjpwYXNz"}}})");
  write(webhook.dir() / "config.yaml",
        lookup_config({registry.host()}, "  credentials: " + credentials.string() + "\n"));
  REQUIRE(webhook.process().wait_for_event("image_lookup_started", 5000));
  REQUIRE(webhook.process().wait_for_event("config_loaded", 5000, 1));
  const Json after = webhook.admit(review(pod({image})));
  CHECK(contains(audit_images(after), "@sha256:"));

  write(credentials, R"({"auths": {"registry.example.com": {"auth": "dXNlcjpuZXc="}}})");
  const auto rotated = webhook.process().wait_for_event("image_lookup_started", 5000, 1);
  REQUIRE(rotated);
  CHECK(std::string(rotated->value("reason", "").c_str()) == "registry credentials or CA changed");
  // The log never holds the credentials themselves.
  for (const auto& line : webhook.process().lines()) CHECK(!contains(line.dump().c_str(), "dXNlcjpuZXc="));

  write(credentials, "not json");
  REQUIRE(webhook.process().wait_for_event("image_lookup_rejected", 5000));
  const Json still = webhook.admit(review(pod({image}), "uid-3"));
  CHECK(still["response"]["allowed"] == true);
}

TEST_CASE("serve with lookups: an invalid images: block is rejected at start and on reload") {
  FakeRegistry registry;
  const fs::path dir = temp_dir();
  write(dir / "config.yaml", lookup_config({registry.host()}, "  caFile: /nonexistent/ca.crt\n"));
  CertFactory ca;
  CertFactory::install(ca.server({"podguard.podguard.svc"}), dir / "tls.crt", dir / "tls.key");
  ServerProcess p({PODGUARD_BINARY, "serve", "--config", (dir / "config.yaml").string(), "--tls-cert",
                   (dir / "tls.crt").string(), "--tls-key", (dir / "tls.key").string(), "--addr", "127.0.0.1:0",
                   "--metrics-addr", "127.0.0.1:0"});
  const auto code = p.wait_exit(10000);
  REQUIRE(code);
  CHECK(*code == 2);
  CHECK(contains(p.stderr_text(), "images: "));
  CHECK(contains(p.stderr_text(), "/nonexistent/ca.crt"));
  std::error_code ec;
  fs::remove_all(dir, ec);
}

TEST_CASE("serve with lookups: SIGTERM while a review waits on a registry: it is answered, then a clean exit") {
  SilentPort silent;
  Webhook webhook({.config = lookup_config({silent.host()}, "", 1.5, "warn"), .extra = {"--drain-delay", "0", "--shutdown-timeout", "10"}});
  auto waiting = std::async(std::launch::async, [&] {
    auto c = webhook.connect();
    return c->request("POST", "/validate", review(pod({silent.host() + "/acme/api:1.4.2"})).dump().c_str());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  webhook.process().signal(SIGTERM);
  const auto r = waiting.get();
  std::string log;
  for (const auto& line : webhook.process().lines()) log += std::string(line.dump().c_str()) + "\n";
  INFO(log);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(contains(r->body, "\"allowed\":true"));
  CHECK(contains(r->body, silent.host()));
  const auto code = webhook.process().wait_exit(10000);
  REQUIRE(code);
  CHECK(*code == 0);
}

TEST_CASE("serve with lookups against Debian's docker-registry") {
  if (DockerRegistry::binary().empty()) {
    MESSAGE("skipping: Debian's docker-registry is not installed (apt-get install docker-registry)");
    return;
  }
  DockerRegistry registry;
  ConfigSpec root = passing_image();
  root.user = std::nullopt;  // no USER: root
  registry.push(single_image("acme/root", "2.0", root));
  registry.push(single_image("acme/api", "1.4.2", passing_image()));
  Webhook webhook({.config = lookup_config({registry.host()})});

  const Json denied = webhook.admit(review(pod({registry.host() + "/acme/root:2.0"})));
  INFO(denied.dump(2));
  CHECK(denied["response"]["allowed"] == false);
  const std::string message(denied["response"]["status"]["message"].get<std::string_view>());
  CHECK(contains(message, "[run-as-non-root]"));
  CHECK(contains(message, "root"));
  const Json allowed = webhook.admit(review(pod({registry.host() + "/acme/api:1.4.2"}), "uid-2"));
  CHECK(allowed["response"]["allowed"] == true);
  CHECK(contains(audit_images(allowed), "/acme/api:1.4.2@sha256:"));
}

}  // namespace podguard::testing

// podguard serve, started for real on 127.0.0.1 with freshly made
// certificates and spoken to through a verifying TLS client that checks the
// name the API server uses (podguard.podguard.svc).
#include <doctest/doctest.h>

#include <httplib.h>
#include <stdlib.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "cert_factory.h"
#include "fixture_files.h"
#include "server_process.h"
#include "subprocess.h"
#include "tls_client.h"
#include "webhook_process.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;
using testing::CertFactory;
using testing::HttpResponse;
using testing::ServerProcess;
using testing::TlsConnection;
using testing::TlsOptions;
using testing::Webhook;
using testing::WebhookOptions;
using testing::contains;
using testing::kContract;
using testing::temp_dir;
using testing::write;

// Writes to a connection the server has closed must fail, not kill the test.
const bool kIgnoreSigpipe = [] {
  signal(SIGPIPE, SIG_IGN);
  return true;
}();

// The pod a Deployment like examples/reference-deployment.yaml creates.
Json compliant_pod() {
  const auto docs =
      testing::read_manifest(fs::path(PODGUARD_SOURCE_DIR) / "examples" / "reference-deployment.yaml");
  const Json& deployment = docs.at(0).value;
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"generateName", "orders-api-7d9f-"}, {"namespace", "shop"}}},
              {"spec", deployment["spec"]["template"]["spec"]}};
}

Json with_image(Json pod, const std::string& image) {
  pod["spec"]["containers"][0]["image"] = image;
  return pod;
}

Json review(const std::string& operation, const Json& object, const Json& old_object = nullptr,
            const std::string& api_version = "admission.k8s.io/v1") {
  Json request = {{"uid", "uid-" + operation},
                  {"kind", {{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}},
                  {"resource", {{"group", ""}, {"version", "v1"}, {"resource", "pods"}}},
                  {"namespace", "shop"},
                  {"operation", operation},
                  {"userInfo", {{"username", "system:serviceaccount:kube-system:replicaset-controller"}}},
                  {"object", object},
                  {"oldObject", old_object},
                  {"dryRun", false}};
  return Json{{"apiVersion", api_version}, {"kind", "AdmissionReview"}, {"request", request}};
}


}  // namespace

TEST_CASE("serve: a compliant pod is allowed, in the request's apiVersion, with the same uid") {
  Webhook webhook;
  const Json response = webhook.admit(review("CREATE", compliant_pod()));
  CHECK(response["apiVersion"] == "admission.k8s.io/v1");
  CHECK(response["kind"] == "AdmissionReview");
  CHECK(response["response"]["uid"] == "uid-CREATE");
  CHECK(response["response"]["allowed"] == true);
  CHECK_FALSE(response["response"].contains("warnings"));
  const Json beta = webhook.admit(review("CREATE", compliant_pod(), nullptr, "admission.k8s.io/v1beta1"));
  CHECK(beta["apiVersion"] == "admission.k8s.io/v1beta1");
  const auto line = webhook.process().wait_for_event("admission", 5000);
  REQUIRE(line);
  CHECK((*line)["decision"] == "allowed");
  CHECK((*line)["uid"] == "uid-CREATE");
  CHECK(webhook.process().non_json_lines().empty());
}

TEST_CASE("serve: a violation denies with 403 and one message naming the object and every denying rule") {
  Webhook webhook;
  Json pod = with_image(compliant_pod(), "nginx:latest");
  pod["spec"]["securityContext"]["runAsUser"] = 0;
  const Json response = webhook.admit(review("CREATE", pod))["response"];
  CHECK(response["allowed"] == false);
  CHECK(response["status"]["code"] == 403);
  const std::string message = response["status"]["message"];
  CHECK(contains(message, "Pod shop/orders-api-7d9f-"));
  CHECK(contains(message, "[image-pinned] container \"api\" spec.containers[0].image"));
  CHECK(contains(message, "[run-as-non-root] container \"api\" spec.securityContext.runAsUser"));
  const auto line = webhook.process().wait_for_event("admission", 5000);
  REQUIRE(line);
  CHECK((*line)["decision"] == "denied");
  CHECK((*line)["violations"].size() == 2);
}

TEST_CASE("serve: warnings stay within the API server's limits") {
  Webhook webhook;
  Json pod = compliant_pod();
  Json& containers = pod["spec"]["containers"];
  for (int i = 1; i < 40; ++i) {
    Json c = containers[0];
    c["name"] = "sidecar-with-a-rather-long-name-" + std::to_string(i);
    c["securityContext"].erase("allowPrivilegeEscalation");  // a warn rule
    c["securityContext"].erase("capabilities");             // another
    containers.push_back(c);
  }
  const Json response = webhook.admit(review("CREATE", pod))["response"];
  CHECK(response["allowed"] == true);
  REQUIRE(response["warnings"].is_array());
  std::size_t total = 0;
  for (const auto& w : response["warnings"]) {
    CHECK(w.get<std::string>().size() <= 256);
    total += w.get<std::string>().size();
  }
  CHECK(total <= 4096);
  CHECK(contains(response["warnings"].back().get<std::string>(), "more warnings not shown"));
}

TEST_CASE("serve: audit rules become audit annotations, exemptions too") {
  Webhook webhook({.config = kContract +
                             "rules:\n  image-pinned: audit\nexemptions:\n"
                             "  - {rules: [read-only-root-filesystem], namespaces: [shop], reason: \"vendor image, OPS-9\"}\n"});
  Json pod = with_image(compliant_pod(), "nginx:latest");
  pod["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = false;
  const Json response = webhook.admit(review("CREATE", pod))["response"];
  CHECK(response["allowed"] == true);
  CHECK(contains(response["auditAnnotations"]["image-pinned"], "nginx:latest"));
  CHECK(contains(response["auditAnnotations"]["exempted"], "read-only-root-filesystem (config): vendor image, OPS-9"));
  const std::string metrics = webhook.metrics_with(
      {"podguard_exemptions_total{rule=\"read-only-root-filesystem\"", "rule=\"image-pinned\",action=\"audit\""});
  CHECK(contains(metrics, "podguard_exemptions_total{rule=\"read-only-root-filesystem\",source=\"config\"} 1"));
  CHECK(contains(metrics, "podguard_violations_total{rule=\"image-pinned\",action=\"audit\",ratcheted=\"false\"} 1"));
}

TEST_CASE("serve: UPDATE is ratcheted; DELETE, CONNECT and subresources pass untouched; dryRun is judged the same") {
  Webhook webhook;
  const Json bad = with_image(compliant_pod(), "nginx:latest");
  SUBCASE("an existing violation does not deny an update") {
    Json updated = bad;
    updated["metadata"]["labels"] = {{"team", "shop"}};
    const Json response = webhook.admit(review("UPDATE", updated, bad))["response"];
    CHECK(response["allowed"] == true);
    CHECK(contains(response["warnings"][0].get<std::string>(), "already present"));
  }
  SUBCASE("a new violation does") {
    Json worse = bad;
    worse["spec"]["hostNetwork"] = true;
    const Json response = webhook.admit(review("UPDATE", worse, bad))["response"];
    CHECK(response["allowed"] == false);
    const std::string message = response["status"]["message"];
    CHECK(contains(message, "[host-namespaces]"));
    CHECK_FALSE(contains(message, "[image-pinned]"));
  }
  SUBCASE("reordered containers keep their violations' identity") {
    Json two = bad;
    Json second = compliant_pod()["spec"]["containers"][0];
    second["name"] = "second";
    two["spec"]["containers"].push_back(second);
    Json reordered = two;
    std::swap(reordered["spec"]["containers"][0], reordered["spec"]["containers"][1]);
    CHECK(webhook.admit(review("UPDATE", reordered, two))["response"]["allowed"] == true);
  }
  SUBCASE("DELETE and CONNECT") {
    for (const char* op : {"DELETE", "CONNECT"}) {
      const Json response = webhook.admit(review(op, bad))["response"];
      CHECK(response["allowed"] == true);
      CHECK_FALSE(response.contains("warnings"));
    }
  }
  SUBCASE("subresources") {
    Json r = review("UPDATE", bad, bad);
    r["request"]["subResource"] = "status";
    CHECK(webhook.admit(r)["response"]["allowed"] == true);
  }
  SUBCASE("dryRun") {
    Json r = review("CREATE", bad);
    r["request"]["dryRun"] = true;
    CHECK(webhook.admit(r)["response"]["allowed"] == false);
    const auto line = webhook.process().wait_for_event("admission", 5000);
    REQUIRE(line);
    CHECK((*line)["dry_run"] == true);
  }
}

TEST_CASE("serve: bad requests get clear JSON errors and never hurt the server") {
  Webhook webhook;
  SUBCASE("malformed JSON is 400") {
    const HttpResponse r = webhook.post("{\"apiVersion\": ");
    CHECK(r.status == 400);
    CHECK(contains(Json::parse(r.body)["error"].get<std::string>(), "malformed AdmissionReview"));
  }
  SUBCASE("a review without request.uid is 400") {
    Json r = review("CREATE", compliant_pod());
    r["request"].erase("uid");
    const HttpResponse response = webhook.post(std::string(r.dump()));
    CHECK(response.status == 400);
    CHECK(Json::parse(response.body)["error"] == "malformed AdmissionReview: request.uid is missing");
  }
  SUBCASE("a body over 3 MiB is 413") {
    auto c = webhook.connect();
    const std::string big(3 * 1024 * 1024 + 1, ' ');
    auto r = c->request("POST", "/validate", big);
    REQUIRE(r);
    CHECK(r->status == 413);
  }
  SUBCASE("wrong method is 405, wrong path 404") {
    auto c = webhook.connect();
    auto get = c->request("GET", "/validate");
    REQUIRE(get);
    CHECK(get->status == 405);
    CHECK(get->headers["allow"] == "POST");
    auto missing = c->request("POST", "/mutate", "{}");
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(Json::parse(missing->body).contains("error"));
  }
  // The server is still fine after all of that.
  CHECK(webhook.admit(review("CREATE", compliant_pod()))["response"]["allowed"] == true);
  const std::string metrics = webhook.metrics_with({"decision=\"allowed\"} 1"});
  CHECK(contains(metrics, "decision=\"allowed\"} 1"));
}

TEST_CASE("serve: a client that stalls is cut off by the read timeout without holding up others") {
  Webhook webhook({.extra = {"--read-timeout", "3"}});
  auto stalled = webhook.connect();
  // Headers promise a body that never comes.
  REQUIRE(stalled->send("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{\"apiVersion\":"));
  // Others are served while it hangs (not queued behind it)...
  for (int i = 0; i < 5; ++i) CHECK(webhook.admit(review("CREATE", compliant_pod()))["response"]["allowed"] == true);
  stalled->set_timeout(200);
  CHECK_FALSE(stalled->read_response());  // ...and it is still waiting
  // After the read timeout its request is answered 408 with a JSON error,
  // and the connection is closed.
  stalled->set_timeout(8000);
  auto cut_off = stalled->read_response();
  REQUIRE(cut_off);
  CHECK(cut_off->status == 408);
  CHECK(contains(Json::parse(cut_off->body)["error"].get<std::string>(), "read timeout"));
  CHECK(cut_off->headers["connection"] == "close");
  CHECK(stalled->closed_by_peer());
}

TEST_CASE("serve: out of file descriptors, it stops accepting for a moment instead of spinning, then recovers") {
  if (::access("/usr/bin/prlimit", X_OK) != 0) {
    MESSAGE("skipping: prlimit (util-linux) not found");
    return;
  }
  Webhook webhook({.wrapper = {"/usr/bin/prlimit", "--nofile=64:64"}});
  // Plain TCP connections: the kernel completes them from the backlog
  // whether or not podguard accepts them, more than it has descriptors for.
  std::vector<int> sockets;
  for (int i = 0; i < 80; ++i) {
    const int fd = testing::connect_loopback(webhook.port());
    REQUIRE(fd >= 0);
    sockets.push_back(fd);
  }
  const auto paused = webhook.process().wait_for_event("accept_paused", 5000);
  REQUIRE(paused);
  CHECK(contains((*paused)["error"].get<std::string>(), "open files"));
  // Not spinning on the readable listening socket: well under a core.
  auto cpu_ticks = [&] {
    std::ifstream stat("/proc/" + std::to_string(webhook.process().pid()) + "/stat");
    std::string field;
    long total = 0;
    for (int i = 1; i <= 15 && stat >> field; ++i) {
      if (i == 14 || i == 15) total += std::stol(field);
    }
    return total;
  };
  const long before = cpu_ticks();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  CHECK(cpu_ticks() - before < sysconf(_SC_CLK_TCK) / 4);
  // Descriptors freed, it serves again.
  for (int fd : sockets) ::close(fd);
  std::optional<testing::HttpResponse> r;
  for (int i = 0; i < 50 && !r; ++i) {
    std::string error;
    auto c = TlsConnection::open(webhook.port(), webhook.tls(), &error);
    if (c) r = c->request("POST", "/validate", std::string(review("CREATE", compliant_pod()).dump()));
    if (!r) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("serve: keep-alive connections serve many requests") {
  Webhook webhook;
  auto c = webhook.connect();
  for (int i = 0; i < 50; ++i) {
    auto r = c->request("POST", "/validate", std::string(review("CREATE", compliant_pod()).dump()));
    REQUIRE(r);
    CHECK(r->status == 200);
  }
}

TEST_CASE("serve: new certificates are served after the files change, established connections keep working") {
  Webhook webhook;
  auto established = webhook.connect();
  const std::string before = established->peer_fingerprint();
  REQUIRE(established->request("POST", "/validate", std::string(review("CREATE", compliant_pod()).dump())));
  CertFactory::install(webhook.ca().server({"podguard.podguard.svc"}), webhook.dir() / "tls.crt",
                       webhook.dir() / "tls.key");
  REQUIRE(webhook.process().wait_for_event("certificate_loaded", 5000, 1));
  const std::string after = webhook.connect()->peer_fingerprint();
  CHECK(after != before);
  auto r = established->request("POST", "/validate", std::string(review("CREATE", compliant_pod()).dump()));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(established->peer_fingerprint() == before);
  CHECK(contains(webhook.metrics(), "podguard_certificate_reloads_total{result=\"success\"} 2"));

  SUBCASE("a broken certificate is rejected and the old one stays") {
    // (Installing the new pair above may already have been rejected once,
    // when the watcher saw the new key before the new certificate.)
    const std::size_t rejected_before = webhook.process().count_events("certificate_rejected");
    write(webhook.dir() / "tls.crt", "not a certificate\n");
    REQUIRE(webhook.process().wait_for_event("certificate_rejected", 5000, rejected_before));
    CHECK(webhook.connect()->peer_fingerprint() == after);
    CHECK(contains(webhook.metrics(), "podguard_certificate_reloads_total{result=\"failure\"} " +
                                          std::to_string(rejected_before + 1)));
  }
}

TEST_CASE("serve: --client-ca requires a client certificate signed by that CA") {
  Webhook webhook({.client_ca = true});
  std::string error;
  auto anonymous = TlsConnection::open(webhook.port(), webhook.tls(), &error);
  // With TLS 1.3 the rejection arrives after the client's side of the
  // handshake, on the first read.
  CHECK_FALSE((anonymous && anonymous->request("GET", "/healthz")));
  const auto issued = webhook.ca().client("kube-apiserver");
  CertFactory::write_cert(issued.cert.get(), webhook.dir() / "client.crt");
  CertFactory::write_key(issued.key.get(), webhook.dir() / "client.key");
  TlsOptions with_cert = webhook.tls();
  with_cert.client_cert_file = (webhook.dir() / "client.crt").string();
  with_cert.client_key_file = (webhook.dir() / "client.key").string();
  auto ok = webhook.connect(with_cert)->request("POST", "/validate", std::string(review("CREATE", compliant_pod()).dump()));
  REQUIRE(ok);
  CHECK(ok->status == 200);

  CertFactory other("some other CA");
  const auto stranger = other.client("intruder");
  CertFactory::write_cert(stranger.cert.get(), webhook.dir() / "stranger.crt");
  CertFactory::write_key(stranger.key.get(), webhook.dir() / "stranger.key");
  TlsOptions wrong = webhook.tls();
  wrong.client_cert_file = (webhook.dir() / "stranger.crt").string();
  wrong.client_key_file = (webhook.dir() / "stranger.key").string();
  auto c = TlsConnection::open(webhook.port(), wrong, &error);
  CHECK_FALSE((c && c->request("GET", "/healthz")));
}

TEST_CASE("serve: a reconnecting client resumes its TLS session, with and without --client-ca") {
  // The API server reconnects with the session ticket it was given; with
  // client certificates required, OpenSSL refuses such a handshake unless
  // the server has a session id context.
  for (const bool client_ca : {false, true}) {
    CAPTURE(client_ca);
    Webhook webhook({.client_ca = client_ca});
    TlsOptions options = webhook.tls();
    if (client_ca) {
      const auto issued = webhook.ca().client("kube-apiserver");
      CertFactory::write_cert(issued.cert.get(), webhook.dir() / "client.crt");
      CertFactory::write_key(issued.key.get(), webhook.dir() / "client.key");
      options.client_cert_file = (webhook.dir() / "client.crt").string();
      options.client_key_file = (webhook.dir() / "client.key").string();
    }
    SSL_SESSION* session = nullptr;
    {
      auto first = webhook.connect(options);
      REQUIRE(first->request("GET", "/healthz"));
      session = first->session();
    }
    REQUIRE(session != nullptr);
    options.resume = session;
    auto again = webhook.connect(options);
    auto r = again->request("POST", "/validate", std::string(review("CREATE", compliant_pod()).dump()));
    SSL_SESSION_free(session);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(again->resumed());
  }
}

TEST_CASE("serve: health, readiness and metrics") {
  Webhook webhook;
  auto c = webhook.connect();
  auto health = c->request("GET", "/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  auto ready = c->request("GET", "/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 200);
  auto plain_ready = webhook.plain_get("/readyz");
  REQUIRE(plain_ready);
  CHECK(plain_ready->status == 200);
  // The image's HEALTHCHECK runs `podguard probe` against the same endpoint.
  CHECK(testing::run_process({PODGUARD_BINARY, "probe", "--url", webhook.metrics_url("/readyz")}).exit_code == 0);
  CHECK(testing::run_process({PODGUARD_BINARY, "probe", "--url", webhook.metrics_url("/nope")}).exit_code == 1);
  CHECK(testing::run_process({PODGUARD_BINARY, "probe", "--url", "http://127.0.0.1:1/readyz"}).exit_code == 1);

  webhook.admit(review("CREATE", compliant_pod()));
  webhook.admit(review("CREATE", with_image(compliant_pod(), "nginx")));
  webhook.post("not json");
  const std::string m =
      webhook.metrics_with({"decision=\"allowed\"} 1", "decision=\"denied\"} 1", "decision=\"error\"} 1"});
  CHECK(contains(m, "# TYPE podguard_admission_requests_total counter"));
  CHECK(contains(m, "podguard_admission_requests_total{kind=\"Pod\",operation=\"CREATE\",decision=\"allowed\"} 1"));
  CHECK(contains(m, "podguard_admission_requests_total{kind=\"Pod\",operation=\"CREATE\",decision=\"denied\"} 1"));
  CHECK(contains(m, "podguard_admission_requests_total{kind=\"\",operation=\"\",decision=\"error\"} 1"));
  CHECK(contains(m, "# TYPE podguard_admission_duration_seconds histogram"));
  CHECK(contains(m, "podguard_admission_duration_seconds_bucket{kind=\"Pod\",operation=\"CREATE\",decision=\"denied\",le=\"+Inf\"} 1"));
  CHECK(contains(m, "podguard_violations_total{rule=\"image-pinned\",action=\"deny\",ratcheted=\"false\"} 1"));
  CHECK(contains(m, "podguard_config_reloads_total{result=\"success\"} 1"));
  CHECK(contains(m, "podguard_config_reloads_total{result=\"failure\"} 0"));
  const std::string gauge = "\npodguard_certificate_expiry_timestamp_seconds ";
  const auto expiry_at = m.find(gauge);
  REQUIRE(expiry_at != std::string::npos);
  const double expiry = std::stod(m.substr(expiry_at + gauge.size()));
  CHECK(expiry > static_cast<double>(std::time(nullptr)));
  CHECK(expiry < static_cast<double>(std::time(nullptr)) + 86400 * 2);
}

TEST_CASE("serve: an expired certificate makes /readyz fail") {
  const fs::path dir = temp_dir();
  CertFactory ca;
  ca.write_ca(dir / "ca.crt");
  CertFactory::install(ca.server({"podguard.podguard.svc"}, -7200, -3600), dir / "tls.crt", dir / "tls.key");
  write(dir / "config.yaml", kContract);
  ServerProcess p({PODGUARD_BINARY, "serve", "--config", (dir / "config.yaml").string(), "--tls-cert",
                   (dir / "tls.crt").string(), "--tls-key", (dir / "tls.key").string(), "--addr", "127.0.0.1:0",
                   "--metrics-addr", "127.0.0.1:0"});
  const auto listening = p.wait_listening();
  REQUIRE(listening);
  httplib::Client client("127.0.0.1", listening->at("metrics_port").get<int>());
  auto r = client.Get("/readyz");
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(contains(r->body, "expired"));
  fs::remove_all(dir);
}

TEST_CASE("serve: config changes are applied atomically; an invalid config is rejected and the old one stays") {
  Webhook webhook;
  const Json bad = review("CREATE", with_image(compliant_pod(), "nginx:latest"));
  CHECK(webhook.admit(bad)["response"]["allowed"] == false);

  write(webhook.dir() / "config.yaml", kContract + "rules:\n  image-pinned: warn\n");
  REQUIRE(webhook.process().wait_for_event("config_loaded", 5000, 1));
  CHECK(webhook.admit(bad)["response"]["allowed"] == true);

  write(webhook.dir() / "config.yaml", kContract + "rules:\n  image-pinned: {action: deny, requireDigests: true}\n");
  const auto rejected = webhook.process().wait_for_event("config_rejected", 5000);
  REQUIRE(rejected);
  CHECK(contains((*rejected)["error"].get<std::string>(), "config.yaml:5:32: rules.image-pinned.requireDigests"));
  CHECK(webhook.admit(bad)["response"]["allowed"] == true);  // the warn config is still in force
  const std::string m = webhook.metrics();
  CHECK(contains(m, "podguard_config_reloads_total{result=\"success\"} 2"));
  CHECK(contains(m, "podguard_config_reloads_total{result=\"failure\"} 1"));

  SUBCASE("SIGHUP reloads too") {
    write(webhook.dir() / "config.yaml", kContract);
    REQUIRE(webhook.process().wait_for_event("config_loaded", 5000, 2));
    webhook.process().signal(SIGHUP);
    const auto hup = webhook.process().wait_for_event("config_loaded", 5000, 3);
    REQUIRE(hup);
    CHECK((*hup)["reason"] == "SIGHUP");
    CHECK(webhook.admit(bad)["response"]["allowed"] == false);
  }
}

TEST_CASE("serve: SIGTERM fails readiness at once, serves through --drain-delay, closes the listener, exits 0") {
  Webhook webhook({.extra = {"--drain-delay", "1.5"}});
  auto in_flight = webhook.connect();
  auto keep_alive = webhook.connect();
  REQUIRE(keep_alive->request("GET", "/healthz"));
  const std::string body = std::string(review("CREATE", compliant_pod()).dump());
  const std::string request = TlsConnection::request_text("POST", "/validate", body);
  const std::size_t half = request.size() / 2;
  REQUIRE(in_flight->send(request.substr(0, half)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the server is now reading it
  webhook.process().signal(SIGTERM);
  REQUIRE(webhook.process().wait_for_event("draining", 5000));
  auto ready = webhook.plain_get("/readyz");
  REQUIRE(ready);
  CHECK(ready->status == 503);
  CHECK(contains(ready->body, "shutting down"));
  // During the drain delay serving goes on, for new connections too.
  CHECK(webhook.admit(review("CREATE", compliant_pod()))["response"]["allowed"] == true);
  auto during = keep_alive->request("POST", "/validate", body);
  REQUIRE(during);
  CHECK(during->status == 200);
  CHECK(webhook.process().count_events("listener_closed") == 0);
  // Then the listener closes: new connections are refused.
  REQUIRE(webhook.process().wait_for_event("listener_closed", 5000));
  std::string error;
  CHECK_FALSE(TlsConnection::open(webhook.port(), webhook.tls(), &error));
  // The request in flight is answered, with Connection: close.
  REQUIRE(in_flight->send(request.substr(half)));
  auto response = in_flight->read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->headers["connection"] == "close");
  CHECK(Json::parse(response->body)["response"]["allowed"] == true);
  CHECK(keep_alive->closed_by_peer());  // idle: closed after a moment
  const auto code = webhook.process().wait_exit(10000);
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(webhook.process().count_events("stopped") == 1);
}

TEST_CASE("serve: a client trickling its request does not hold the shutdown past its header timeout") {
  Webhook webhook({.extra = {"--drain-delay", "0.2", "--header-timeout", "30", "--read-timeout", "30"}});
  auto trickler = webhook.connect();
  REQUIRE(trickler->send("POST /validate HTTP/1.1\r\nHost: x\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  webhook.process().signal(SIGTERM);
  std::thread keep_trickling([&trickler] {
    for (int i = 0; i < 30 && trickler->send("X"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  });
  const auto code = webhook.process().wait_exit(10000);
  keep_trickling.join();
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("serve: --drain-delay must be shorter than --shutdown-timeout") {
  const fs::path dir = temp_dir();
  CertFactory ca;
  CertFactory::install(ca.server({"podguard.podguard.svc"}), dir / "tls.crt", dir / "tls.key");
  write(dir / "config.yaml", kContract);
  const auto r = testing::run_process({PODGUARD_BINARY, "serve", "--config", (dir / "config.yaml").string(),
                                       "--tls-cert", (dir / "tls.crt").string(), "--tls-key",
                                       (dir / "tls.key").string(), "--addr", "127.0.0.1:0", "--metrics-addr",
                                       "127.0.0.1:0", "--drain-delay", "30", "--shutdown-timeout", "25"});
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "--drain-delay must be at least 0 and shorter than --shutdown-timeout"));
  fs::remove_all(dir);
}

TEST_CASE("serve: connection, timeout and error metrics by listener and reason, and the process_* metrics") {
  Webhook webhook({.extra = {"--header-timeout", "0.3"}});
  webhook.post("not json");
  auto c = webhook.connect();
  REQUIRE(c->send("POST /validate HTTP/1.1\r\nHost: x\r\n"));  // never finished
  auto timed_out = c->read_response();
  REQUIRE(timed_out);
  CHECK(timed_out->status == 408);
  auto missing = webhook.plain_get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  const std::string m = webhook.metrics_with(
      {"podguard_http_client_errors_total{listener=\"https\",status=\"400\",reason=\"malformed_review\"} 1",
       "podguard_http_timeouts_total{listener=\"https\",phase=\"header\"} 1"});
  CHECK(contains(m, "podguard_http_client_errors_total{listener=\"https\",status=\"400\",reason=\"malformed_review\"} 1"));
  CHECK(contains(m, "podguard_http_client_errors_total{listener=\"https\",status=\"408\",reason=\"timeout\"} 1"));
  CHECK(contains(m, "podguard_http_client_errors_total{listener=\"metrics\",status=\"404\",reason=\"not_found\"} 1"));
  CHECK(contains(m, "podguard_http_timeouts_total{listener=\"https\",phase=\"header\"} 1"));
  CHECK(contains(m, "# TYPE podguard_http_connections_open gauge"));
  CHECK(contains(m, "podguard_http_connections_evicted_total{listener=\"https\"} 0"));
  CHECK(contains(m, "podguard_http_connections_refused_total{listener=\"metrics\"} 0"));
  for (const char* name : {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
                           "process_max_fds ", "process_start_time_seconds ", "process_virtual_memory_bytes "}) {
    const auto at = m.find(std::string("\n") + name);
    REQUIRE_MESSAGE(at != std::string::npos, name);
    const double value = std::stod(m.substr(at + 1 + std::strlen(name)));
    CHECK_MESSAGE(value >= 0, name);
    if (std::string(name) != "process_cpu_seconds_total ") CHECK_MESSAGE(value > 0, name);
    if (std::string(name) == "process_start_time_seconds ") {
      CHECK(std::abs(value - static_cast<double>(std::time(nullptr))) < 120);
    }
  }
}

TEST_CASE("serve: clients trickling bytes at the metrics port do not delay /healthz there") {
  Webhook webhook;
  std::vector<int> tricklers;
  for (int i = 0; i < 64; ++i) {
    const int fd = testing::connect_loopback(webhook.metrics_port());
    REQUIRE(fd >= 0);
    REQUIRE(::send(fd, "GET /metr", 9, MSG_NOSIGNAL) == 9);
    tricklers.push_back(fd);
  }
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto health = webhook.plain_get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
  }
  for (int fd : tricklers) ::close(fd);
}

TEST_CASE("serve: a review of thousands of violating containers is answered in bounded size and memory") {
  Webhook webhook;
  Json pod = compliant_pod();
  Json containers = Json::array();
  for (int i = 0; i < 6000; ++i) {
    containers.push_back({{"name", "c" + std::to_string(i)},
                          {"image", "nginx"},
                          {"securityContext", {{"runAsUser", 0}, {"privileged", true}}}});
  }
  pod["spec"]["containers"] = containers;
  const std::string body = std::string(review("CREATE", pod).dump());
  REQUIRE(body.size() < (3u << 20));
  for (int i = 0; i < 4; ++i) {
    const HttpResponse r = webhook.post(body);
    REQUIRE(r.status == 200);
    CHECK(r.body.size() < 64 * 1024);
    const Json answer = Json::parse(r.body);
    CHECK(answer["response"]["allowed"] == false);
    CHECK(contains(answer["response"]["status"]["message"].get<std::string>(), "and 5990 more findings of this rule"));
  }
  CHECK(webhook.admit(review("CREATE", compliant_pod()))["response"]["allowed"] == true);
  const std::string m = webhook.metrics_with({"podguard_http_requests_offloaded_total{listener=\"https\"} 4"});
  CHECK(contains(m, "podguard_violations_total{rule=\"no-privileged\",action=\"deny\",ratcheted=\"false\"} 24000"));
#if !defined(__SANITIZE_ADDRESS__)
  // Memory is given back after each review: far under the chart's 128Mi limit.
  const auto at = m.find("\nprocess_resident_memory_bytes ");
  REQUIRE(at != std::string::npos);
  const double rss = std::stod(m.substr(at + 31));
  CHECK(rss < 96.0 * 1024 * 1024);
#endif
}

TEST_CASE("serve: missing or invalid flags, files and config fail fast, before listening") {
  const fs::path dir = temp_dir();
  CertFactory ca;
  CertFactory::install(ca.server({"podguard.podguard.svc"}), dir / "tls.crt", dir / "tls.key");
  write(dir / "config.yaml", kContract);
  write(dir / "bad.yaml", "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: strict\n");
  const std::string cert = (dir / "tls.crt").string(), key = (dir / "tls.key").string();
  const std::string config = (dir / "config.yaml").string();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--tls-cert", cert, "--tls-key", key}, "--config (PODGUARD_CONFIG) is required"},
      {{"--config", config, "--tls-key", key}, "--tls-cert (PODGUARD_TLS_CERT) is required"},
      {{"--config", (dir / "bad.yaml").string(), "--tls-cert", cert, "--tls-key", key}, "bad.yaml:3:1: profile:"},
      {{"--config", (dir / "missing.yaml").string(), "--tls-cert", cert, "--tls-key", key}, "cannot read"},
      {{"--config", config, "--tls-cert", key, "--tls-key", key}, "has no PEM certificate"},
      {{"--config", config, "--tls-cert", cert, "--tls-key", cert}, "has no unencrypted PEM private key"},
      {{"--config", config, "--tls-cert", cert, "--tls-key", key, "--addr", "nonsense"}, "--addr"},
      {{"--config", config, "--tls-cert", cert, "--tls-key", key, "--client-ca", config}, "--client-ca"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {PODGUARD_BINARY, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ServerProcess p(args);
    const auto code = p.wait_exit(10000);
    INFO(c.message);
    REQUIRE(code);
    CHECK(*code == 2);
    CHECK(contains(p.stderr_text(), c.message));
    CHECK(p.count_events("listening") == 0);
  }
  SUBCASE("a key that does not match the certificate") {
    CertFactory::write_key(testing::new_key().get(), dir / "other.key");
    ServerProcess p({PODGUARD_BINARY, "serve", "--config", config, "--tls-cert", cert, "--tls-key",
                     (dir / "other.key").string(), "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"});
    REQUIRE(p.wait_exit(10000) == 2);
    CHECK(contains(p.stderr_text(), "does not match the certificate"));
  }
  SUBCASE("flags from PODGUARD_* variables") {
    setenv("PODGUARD_CONFIG", config.c_str(), 1);
    setenv("PODGUARD_TLS_CERT", cert.c_str(), 1);
    setenv("PODGUARD_TLS_KEY", key.c_str(), 1);
    ServerProcess p({PODGUARD_BINARY, "serve", "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"});
    unsetenv("PODGUARD_CONFIG");
    unsetenv("PODGUARD_TLS_CERT");
    unsetenv("PODGUARD_TLS_KEY");
    CHECK(p.wait_listening());
  }
  fs::remove_all(dir);
}

}  // namespace podguard

namespace podguard {

TEST_CASE("serve: podguard review prints exactly what the webhook answers") {
  Webhook webhook;
  for (const Json& r : {review("CREATE", compliant_pod()), review("CREATE", with_image(compliant_pod(), "nginx")),
                        review("UPDATE", with_image(compliant_pod(), "nginx"), with_image(compliant_pod(), "nginx"))}) {
    const HttpResponse served = webhook.post(std::string(r.dump()));
    const std::string file = (webhook.dir() / "review.json").string();
    write(file, std::string(r.dump()));
    const testing::ProcessResult printed =
        testing::run_process({PODGUARD_BINARY, "review", "--config", (webhook.dir() / "config.yaml").string(), file});
    CHECK(Json::parse(printed.out) == Json::parse(served.body));
    const bool denied = !Json::parse(served.body)["response"]["allowed"].get<bool>();
    CHECK(printed.exit_code == (denied ? 1 : 0));
  }
  const testing::ProcessResult malformed = testing::run_process({PODGUARD_BINARY, "review", "-"}, "{\"kind\": 1}");
  CHECK(malformed.exit_code == 2);
  CHECK(contains(malformed.err, "malformed AdmissionReview"));
  CHECK(Json::parse(webhook.post("{\"kind\": 1}").body) == Json::parse(malformed.out));
}

}  // namespace podguard

namespace podguard {
namespace {

// Sends `bytes` on a plain TCP connection and returns what came back before
// the server closed it (at most 3 s).
std::optional<std::string> raw_exchange(int port, const std::string& bytes) {
  const int fd = testing::connect_loopback(port);
  if (fd < 0) return std::nullopt;
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (!bytes.empty()) ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  bool closed = false;
  for (ssize_t n; !closed;) {
    n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
    } else {
      closed = n == 0 || errno == ECONNRESET;
      if (!closed) break;  // timed out: the server kept it open
    }
  }
  ::close(fd);
  if (!closed) return std::nullopt;
  return got;
}

}  // namespace

// Each bad input on its own connection, each followed by a valid review that
// must be answered as usual: no crash, no hang, a clear error where there is
// an answer to give.
TEST_CASE("serve: a matrix of bad framing, headers, bodies and TLS junk, each followed by a valid review") {
  Webhook webhook({.extra = {"--header-timeout", "1"}});
  const std::string review_body = std::string(review("CREATE", compliant_pod()).dump());
  const auto post = [](const std::string& body) {
    return "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  struct Case {
    std::string name;
    std::string request;  // sent over TLS
    int status;           // expected answer
  };
  std::string deep(10000, '[');
  const std::vector<Case> http_cases = {
      {"garbage request line", "GARBAGE\r\n\r\n", 400},
      {"method only", "GET\r\n\r\n", 400},
      {"HTTP/2.0", "GET /healthz HTTP/2.0\r\n\r\n", 505},
      {"extra token in the request line", "GET / HTTP/1.1 extra\r\n\r\n", 400},
      {"method with a bad character", "G(T /healthz HTTP/1.1\r\n\r\n", 400},
      {"absolute-form target", "GET http://x/healthz HTTP/1.1\r\n\r\n", 400},
      {"control character in the target", "GET /he\x01lthz HTTP/1.1\r\n\r\n", 400},
      {"Content-Length not a number", "POST /validate HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
      {"negative Content-Length", "POST /validate HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"huge Content-Length", "POST /validate HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
      {"conflicting Content-Length", "POST /validate HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400},
      {"Content-Length over 3 MiB", "POST /validate HTTP/1.1\r\nContent-Length: 3145729\r\n\r\n", 413},
      {"unknown transfer coding", "POST /validate HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"chunked and Content-Length", "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n", 400},
      {"bad chunk size", "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"no CRLF after a chunk", "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n", 400},
      {"chunk size line too long", "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(2000, '1'), 400},
      {"chunk over 3 MiB", "POST /validate HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n400000\r\n", 413},
      {"header without a colon", "GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n", 400},
      {"header name with a space", "GET /healthz HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
      {"NUL in a header value", std::string("GET /healthz HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 36), 400},
      {"control byte in a header value", "GET /healthz HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n", 400},
      {"DEL in a header value", "GET /healthz HTTP/1.1\r\nX-A: a\x7f" "b\r\n\r\n", 400},
      {"headers over 64 KiB", "GET /healthz HTTP/1.1\r\nX-A: " + std::string(70000, 'a') + "\r\n\r\n", 431},
      {"endless blank lines", std::string(70000, '\n'), 400},
      {"a head that never ends", "POST /validate HTTP/1.1\r\nHost: x\r\n", 408},
      {"a body that never comes", "POST /validate HTTP/1.1\r\nContent-Length: 100\r\n\r\n{", 408},
      {"GET on /validate", "GET /validate HTTP/1.1\r\n\r\n", 405},
      {"unknown path", "GET /mutate HTTP/1.1\r\n\r\n", 404},
      {"empty body", post(""), 400},
      {"null", post("null"), 400},
      {"an array", post("[]"), 400},
      {"an empty object", post("{}"), 400},
      {"no kind", post(R"({"apiVersion":"admission.k8s.io/v1"})"), 400},
      {"wrong kind", post(R"({"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{}})"), 400},
      {"request not an object", post(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":7})"), 400},
      {"operation PATCH", post(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"PATCH"}})"), 400},
      {"no object on CREATE", post(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE"}})"), 400},
      {"object a string", post(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":"x"}})"), 400},
      {"invalid UTF-8", post("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"\xff\xfe\"}"), 400},
      {"duplicate keys", post(R"({"kind":"AdmissionReview","kind":"AdmissionReview"})"), 400},
      {"nesting 10000 deep", post(deep), 400},
      {"number out of range", post("1e99999"), 400},
      {"trailing garbage", post(review_body + "xyz"), 400},
      {"truncated JSON", post(review_body.substr(0, review_body.size() / 2)), 400},
  };
  for (const Case& c : http_cases) {
    INFO(c.name);
    auto conn = webhook.connect();
    REQUIRE(conn->send(c.request));
    auto r = conn->read_response();
    REQUIRE(r);
    CHECK(r->status == c.status);
    CHECK(Json::parse(r->body).contains("error"));
    CHECK(webhook.admit(review("CREATE", compliant_pod()))["response"]["allowed"] == true);
  }
  const std::vector<std::pair<std::string, std::string>> tls_junk = {
      {"plain HTTP on the TLS port", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"random bytes", std::string("\x9f\x00\x13\x37\xde\xad\xbe\xef\x00\x01", 10)},
      {"a TLS record claiming 16 MiB", std::string("\x16\x03\x01\xff\xff", 5) + std::string(100, 'A')},
      {"an SSLv2 hello", std::string("\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", 11)},
      {"half a ClientHello", std::string("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11)},
      {"nothing at all", ""},
  };
  for (const auto& [name, bytes] : tls_junk) {
    INFO(name);
    // Closed by the server: at once, or at the handshake's header timeout.
    CHECK(raw_exchange(webhook.port(), bytes));
    CHECK(webhook.admit(review("CREATE", compliant_pod()))["response"]["allowed"] == true);
  }
  CHECK(http_cases.size() + tls_junk.size() >= 40);
  CHECK(webhook.process().count_events("listening") == 1);  // the same process all along
}

}  // namespace podguard

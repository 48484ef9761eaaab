// The registry protocol against registries in the test process: auth
// flows, redirects, TLS, mirrors, misbehaving servers, digests.
#include "registry/registry_client.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "registry/fake_registry.h"
#include "registry/lookup_fixture.h"

namespace podguard::testing {
namespace {

using registry::ImageLookup;
using registry::ImageResult;
using registry::RegistryOptions;

ConfigSpec app_spec(std::string user = "1001") {
  ConfigSpec s;
  s.user = std::move(user);
  s.healthcheck = std::vector<std::string>{"CMD", "/app/healthcheck"};
  s.labels = {{"org.opencontainers.image.source", "https://github.com/acme/app"}};
  s.history = {"ADD file:0123 in /", "COPY /src/app /app/server # buildkit", "USER 1001"};
  return s;
}

std::string docker_config(const std::string& host, const std::string& user, const std::string& password) {
  return R"({"auths":{")" + host + R"(":{"auth":")" + base64(user + ":" + password) + R"("}}})";
}

TEST_CASE("an open registry: an image by tag, then by digest, with its config") {
  FakeRegistry reg;
  const Push app = single_image("team/app", "1.0", app_spec());
  reg.push(app);
  auto lookup = make_lookup(local_options({reg.host()}));

  const ImageResult r = lookup->lookup(reg.host() + "/team/app:1.0");
  const ImageFacts& f = facts(r);
  CHECK(f.name == reg.host() + "/team/app");
  CHECK(f.registry == reg.host());
  CHECK(f.digest == app.digest());
  CHECK_FALSE(f.multi_platform);
  REQUIRE(f.offered.size() == 1);
  CHECK(f.offered[0].to_string() == "linux/amd64");
  REQUIRE(f.images.size() == 1);
  CHECK(f.images[0].manifest_digest == app.digest());
  CHECK(f.images[0].config_digest == app.blobs[0].digest);
  CHECK(f.images[0].config->user == "1001");
  CHECK(f.images[0].config->has_healthcheck());

  const ImageResult pinned = lookup->lookup(reg.host() + "/team/app@" + app.digest());
  CHECK(facts(pinned).digest == app.digest());
  // The Accept list names all four manifest types; config blobs only, never a layer.
  const auto seen = reg.seen();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen[0].accept == std::string(media_type::kManifestAccept));
  CHECK(reg.count("GET", "/blobs/" + app.blobs[1].digest) == 0);
}

TEST_CASE("anonymous Bearer flow: 401, a token from the realm for the challenge's scope, reused") {
  TokenServer tokens;
  FakeRegistry reg({.auth = FakeRegistry::Auth::kBearer, .tokens = &tokens});
  reg.push(single_image("app", "1", app_spec()));
  reg.push(single_image("app", "2", app_spec("1002")));
  auto lookup = make_lookup(local_options({reg.host(), tokens.host()}));

  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.at(0).config->user == "1001");
  auto token_requests = tokens.seen();
  REQUIRE(token_requests.size() == 1);
  CHECK(token_requests[0].path.find("service=fake-registry") != std::string::npos);
  CHECK(token_requests[0].path.find("scope=repository:app:pull") != std::string::npos);
  CHECK(token_requests[0].authorization.empty());  // anonymous

  const auto seen = reg.seen();
  REQUIRE(seen.size() >= 3);
  CHECK(seen[0].authorization.empty());
  CHECK(seen[1].authorization.rfind("Bearer tok-1-", 0) == 0);

  // Another tag of the same repository: the token is still good, no 401.
  const std::size_t before = reg.seen().size();
  CHECK(facts(lookup->lookup(reg.host() + "/app:2")).images.at(0).config->user == "1002");
  CHECK(tokens.seen().size() == 1);
  for (std::size_t i = before; i < reg.seen().size(); ++i) CHECK(reg.seen()[i].authorization.rfind("Bearer", 0) == 0);
}

TEST_CASE("Bearer with a login: the token service gets Basic auth; a wrong one is permission denied") {
  TokenServer tokens("robot$ci", "t0ken-pa55");
  FakeRegistry reg({.auth = FakeRegistry::Auth::kBearer, .tokens = &tokens});
  reg.push(single_image("private/app", "1", app_spec()));

  RegistryOptions o = local_options({reg.host(), tokens.host()});
  o.credentials_json = docker_config(reg.host(), "robot$ci", "t0ken-pa55");
  CHECK(facts(make_lookup(o)->lookup(reg.host() + "/private/app:1")).images.size() == 1);
  REQUIRE(tokens.seen().size() == 1);
  CHECK(tokens.seen()[0].authorization == "Basic " + base64("robot$ci:t0ken-pa55"));

  CapturedLog log;
  RegistryOptions wrong = local_options({reg.host(), tokens.host()}, &log);
  wrong.credentials_json = docker_config(reg.host(), "robot$ci", "wr0ng-pa55");
  const ImageResult denied = make_lookup(wrong)->lookup(reg.host() + "/private/app:1");
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code() == StatusCode::kPermissionDenied);
  const std::string why = failure(denied);
  CHECK(why.find("token service " + tokens.host()) != std::string::npos);
  CHECK(why.find("refused the configured credentials") != std::string::npos);
  check_no_secret(why + log.text(), {"wr0ng-pa55", base64("robot$ci:wr0ng-pa55")});

  const ImageResult anonymous =
      make_lookup(local_options({reg.host(), tokens.host()}))->lookup(reg.host() + "/private/app:1");
  CHECK(failure(anonymous).find("refused an anonymous token") != std::string::npos);
}

TEST_CASE("an identity token is traded with the OAuth2 refresh grant (POST), never sent as a password") {
  TokenServer tokens("", "", 300, "refresh-me-0123");
  FakeRegistry reg({.auth = FakeRegistry::Auth::kBearer, .tokens = &tokens});
  reg.push(single_image("app", "1", app_spec()));
  CapturedLog log;
  RegistryOptions o = local_options({reg.host(), tokens.host()}, &log);
  o.credentials_json = R"({"auths":{")" + reg.host() +
                       R"(":{"username":"00000000-0000-0000-0000-000000000000","identitytoken":"refresh-me-0123"}}})";
  CHECK(facts(make_lookup(o)->lookup(reg.host() + "/app:1")).images.size() == 1);
  const auto seen = tokens.seen();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  check_no_secret(log.text(), {"refresh-me-0123"});
}

TEST_CASE("Basic auth from a docker config.json; missing or wrong logins say so without the secret") {
  FakeRegistry reg({.auth = FakeRegistry::Auth::kBasic, .user = "deployer", .password = "Sup3r-s3cret"});
  reg.push(single_image("app", "1", app_spec()));
  reg.push(single_image("app", "2", app_spec("1002")));

  const TempDir dir("podguard-credentials");
  std::ofstream(dir / "config.json") << docker_config(reg.host(), "deployer", "Sup3r-s3cret");
  RegistryOptions o = local_options({reg.host()});
  o.credentials_file = (dir / "config.json").string();
  auto lookup = make_lookup(o);
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.size() == 1);
  // Basic is remembered: the next lookup sends it at once, no 401 first.
  const std::size_t before = reg.seen().size();
  CHECK(facts(lookup->lookup(reg.host() + "/app:2")).images.at(0).config->user == "1002");
  CHECK(reg.seen().at(before).authorization.rfind("Basic ", 0) == 0);

  CapturedLog log;
  RegistryOptions none = local_options({reg.host()}, &log);
  const ImageResult missing = make_lookup(none)->lookup(reg.host() + "/app:1");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code() == StatusCode::kPermissionDenied);
  CHECK(failure(missing).find("registry " + reg.host() + " asks for a login (Basic)") != std::string::npos);

  RegistryOptions wrong = local_options({reg.host()}, &log);
  wrong.credentials_json = docker_config(reg.host(), "deployer", "Wr0ng-s3cret");
  const ImageResult refused = make_lookup(wrong)->lookup(reg.host() + "/app:1");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code() == StatusCode::kPermissionDenied);
  CHECK(failure(refused).find("refused access to manifest app:1 (401 UNAUTHORIZED") != std::string::npos);
  check_no_secret(failure(refused) + log.text(),
                  {"Wr0ng-s3cret", "Sup3r-s3cret", base64("deployer:Wr0ng-s3cret"), base64("deployer:Sup3r-s3cret")});

  RegistryOptions unreadable = local_options({reg.host()});
  unreadable.credentials_file = "/nonexistent/podguard/config.json";
  auto bad = ImageLookup::create(unreadable);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().file() == "/nonexistent/podguard/config.json");
}

TEST_CASE("a registry that quotes the Authorization it got in its error: the secret is redacted") {
  FakeRegistry reg({.auth = FakeRegistry::Auth::kBasic, .user = "u", .password = "right", .echo_authorization = true});
  reg.push(single_image("app", "1", app_spec()));
  RegistryOptions o = local_options({reg.host()});
  o.credentials_json = docker_config(reg.host(), "u", "Echo-me-not-42");
  const ImageResult refused = make_lookup(o)->lookup(reg.host() + "/app:1");
  CHECK(refused.error().code() == StatusCode::kPermissionDenied);
  CHECK(failure(refused).find("bad credentials: <redacted>") != std::string::npos);
  check_no_secret(failure(refused), {"Echo-me-not-42", base64("u:Echo-me-not-42")});
}

TEST_CASE("a blob redirected to storage on another host: followed, and no Authorization goes there") {
  StorageServer storage;
  FakeRegistry reg({.auth = FakeRegistry::Auth::kBasic, .user = "u", .password = "redirect-pw", .storage = &storage});
  const Push app = single_image("app", "1", app_spec("65532"));
  reg.push(app);
  CapturedLog log;
  RegistryOptions o = local_options({reg.host(), storage.host()}, &log);
  o.credentials_json = docker_config(reg.host(), "u", "redirect-pw");
  CHECK(facts(make_lookup(o)->lookup(reg.host() + "/app:1")).images.at(0).config->user == "65532");
  const auto fetched = storage.seen();
  REQUIRE(fetched.size() == 1);
  CHECK(fetched[0].path.find(app.blobs[0].digest) != std::string::npos);
  CHECK(fetched[0].authorization.empty());
  // The signed URL's query is a credential too: logs show the path only.
  CHECK(log.text().find(storage.host() + "/storage/") != std::string::npos);
  check_no_secret(log.text(), {StorageServer::kSignature, "redirect-pw", base64("u:redirect-pw")});
}

TEST_CASE("a relative redirect stays on the registry, and its Authorization goes along") {
  FakeRegistry reg({.auth = FakeRegistry::Auth::kBasic, .user = "u", .password = "p", .relative_redirects = true});
  reg.push(single_image("team/app", "1", app_spec("4242")));
  RegistryOptions o = local_options({reg.host()});
  o.credentials_json = docker_config(reg.host(), "u", "p");
  CHECK(facts(make_lookup(o)->lookup(reg.host() + "/team/app:1")).images.at(0).config->user == "4242");
  const auto seen = reg.seen();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().path.rfind("/blob-store/team/app@sha256:", 0) == 0);  // ../../../../ from /v2/team/app/blobs/
  CHECK(seen.back().authorization == "Basic " + base64("u:p"));
}

TEST_CASE("a redirect to plain HTTP is refused unless that host is an insecure registry") {
  StorageServer storage;
  FakeRegistry reg({.storage = &storage});
  reg.push(single_image("app", "1", app_spec()));
  const ImageResult r = make_lookup(local_options({reg.host()}))->lookup(reg.host() + "/app:1");
  CHECK(r.error().code() == StatusCode::kUnavailable);
  CHECK(failure(r).find("redirected to plain HTTP at " + storage.host()) != std::string::npos);
  CHECK(storage.seen().empty());
}

TEST_CASE("what comes back must match its digest") {
  FakeRegistry reg;
  const Push app = single_image("app", "1", app_spec());
  reg.push(app);
  reg.corrupt("app@" + app.blobs[0].digest, R"({"os":"linux","config":{"User":"0"}})");
  const ImageResult r = make_lookup(local_options({reg.host()}))->lookup(reg.host() + "/app:1");
  CHECK(r.error().code() == StatusCode::kInvalidInput);
  CHECK(failure(r).find("registry " + reg.host() + " sent a config blob " + app.blobs[0].digest) != std::string::npos);
  CHECK(failure(r).find("does not match its digest") != std::string::npos);

  FakeRegistry liar;
  liar.push(app);
  liar.corrupt("app@" + app.digest(), app.manifests[0].content + " ");
  const ImageResult by_digest = make_lookup(local_options({liar.host()}))->lookup(liar.host() + "/app@" + app.digest());
  CHECK(failure(by_digest).find("does not match the digest " + app.digest()) != std::string::npos);
}

TEST_CASE("without Docker-Content-Digest the digest is computed from the manifest") {
  FakeRegistry reg({.send_digest_header = false});
  const Push app = single_image("app", "1", app_spec());
  reg.push(app);
  CHECK(facts(make_lookup(local_options({reg.host()}))->lookup(reg.host() + "/app:1")).digest == app.digest());
}

TEST_CASE("not found, 5xx and a Helm chart: each failure names the registry and the reason") {
  FakeRegistry reg;
  reg.push(single_image("app", "1", app_spec()));
  auto lookup = make_lookup(local_options({reg.host()}));

  const ImageResult missing = lookup->lookup(reg.host() + "/app:2");
  CHECK(missing.error().code() == StatusCode::kNotFound);
  CHECK(failure(missing) == reg.host() + "/app:2: registry " + reg.host() +
                                " has no manifest app:2 (404 MANIFEST_UNKNOWN: manifest unknown)");

  reg.answer_next(500, 1);
  const ImageResult broken = lookup->lookup(reg.host() + "/app:1");
  CHECK(broken.error().code() == StatusCode::kUnavailable);
  CHECK(failure(broken).find("registry " + reg.host() + " answered 500") != std::string::npos);

  Push chart = single_image("charts/podguard", "0.1.0", app_spec());
  chart.blobs[0].media_type = "application/vnd.cncf.helm.config.v1+json";
  chart.manifests[0] = image_manifest(chart.blobs[0], {chart.blobs[1]}, true, "0.1.0");
  reg.push(chart);
  const ImageResult helm = lookup->lookup(reg.host() + "/charts/podguard:0.1.0");
  CHECK(helm.error().code() == StatusCode::kInvalidInput);
  CHECK(failure(helm).find("not a container image") != std::string::npos);

  const ImageResult invalid = lookup->lookup("Not A Reference");
  CHECK(invalid.error().code() == StatusCode::kInvalidInput);
  CHECK(failure(invalid).find("Not A Reference: not a valid image reference") == 0);
}

TEST_CASE("429: Retry-After is waited out within the budget, refused beyond it") {
  FakeRegistry reg;
  reg.push(single_image("app", "1", app_spec()));
  reg.push(single_image("app", "2", app_spec()));
  CapturedLog log;
  auto lookup = make_lookup(local_options({reg.host()}, &log, 3));

  reg.answer_next(429, 1, "1");
  auto start = std::chrono::steady_clock::now();
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.size() == 1);
  CHECK(seconds_since(start) >= 0.95);
  CHECK(log.text().find("429 from " + reg.host() + ": retrying in 1000 ms") != std::string::npos);

  reg.answer_next(429, 1, "30");
  start = std::chrono::steady_clock::now();
  const ImageResult limited = lookup->lookup(reg.host() + "/app:2");
  CHECK(seconds_since(start) < 2);  // no point waiting past the budget (3 s)
  CHECK(limited.error().code() == StatusCode::kUnavailable);
  CHECK(failure(limited).find("registry " + reg.host() + " is rate-limiting podguard (429, Retry-After 30 s") !=
        std::string::npos);
}

TEST_CASE("a port that refuses: unavailable at once, naming the registry") {
  const std::string host = refusing_host();
  const auto start = std::chrono::steady_clock::now();
  const ImageResult r = make_lookup(local_options({host}))->lookup(host + "/app:1");
  CHECK(seconds_since(start) < 2);  // not the 5 s timeout
  CHECK(r.error().code() == StatusCode::kUnavailable);
  CHECK(failure(r) == host + "/app:1: registry " + host + " could not be connected to");
}

TEST_CASE("a port that accepts and never answers: the budget holds") {
  SilentPort silent;
  FakeRegistry reg;
  reg.push(single_image("app", "1", app_spec()));
  // Each fetch may run 10 s; the review's budget is 1 s.
  auto lookup = make_lookup(local_options({silent.host(), reg.host()}, nullptr, 10));
  const auto start = std::chrono::steady_clock::now();
  const auto results = lookup->lookup_all({silent.host() + "/app:1", reg.host() + "/app:1"}, std::chrono::seconds(1));
  const double took = seconds_since(start);
  CHECK(took >= 0.99);
  CHECK(took < 3);
  REQUIRE(results.size() == 2);
  CHECK(results[0].error().code() == StatusCode::kDeadlineExceeded);
  CHECK(failure(results[0]) == silent.host() + "/app:1: registry " + silent.host() +
                                   " did not answer within 1 s (the lookup goes on and is cached)");
  CHECK(facts(results[1]).images.size() == 1);  // the other registry is not held up
}

TEST_CASE("a server that trickles its answer is cut off at the fetch's deadline, freeing the worker") {
  TricklingServer slow;
  FakeRegistry reg;
  reg.push(single_image("app", "1", app_spec()));
  RegistryOptions o = local_options({slow.host(), reg.host()}, nullptr, 1);
  o.workers = 1;
  auto lookup = make_lookup(o);
  // A batch budget far past the timeout: what ends the fetch is its own deadline.
  const auto start = std::chrono::steady_clock::now();
  const ImageResult r = std::move(lookup->lookup_all({slow.host() + "/app:1"}, std::chrono::seconds(10)).front());
  const double took = seconds_since(start);
  CHECK(took < 4);  // the 1 s timeout, not the 10 s budget
  CHECK(r.error().code() == StatusCode::kDeadlineExceeded);
  CHECK(failure(r).find("registry " + slow.host() + " did not answer within") != std::string::npos);
  // The one worker is free again.
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.size() == 1);
}

TEST_CASE("HTTPS: the certificate is checked against the system CAs plus caFile") {
  const TlsFiles tls;
  FakeRegistry reg({.cert_file = tls.cert, .key_file = tls.key});
  reg.push(single_image("app", "1", app_spec()));

  RegistryOptions untrusted;
  untrusted.timeout_seconds = 5;
  const ImageResult r = make_lookup(untrusted)->lookup(reg.host() + "/app:1");
  CHECK(r.error().code() == StatusCode::kUnavailable);
  CHECK(failure(r).find("registry " + reg.host() + " sent a certificate that is not trusted") != std::string::npos);

  RegistryOptions trusted = untrusted;
  trusted.ca_file = tls.ca;
  auto lookup = make_lookup(trusted);
  CHECK(facts(lookup->lookup(reg.host() + "/app:1")).images.size() == 1);
  CHECK(facts(lookup->lookup("localhost:" + std::to_string(reg.port()) + "/app:1")).images.size() == 1);

  // Plain HTTP to an HTTPS registry listed as insecure fails; so does HTTPS to a plain one.
  FakeRegistry plain;
  plain.push(single_image("app", "1", app_spec()));
  const ImageResult tls_to_plain = make_lookup(trusted)->lookup(plain.host() + "/app:1");
  CHECK(tls_to_plain.error().code() == StatusCode::kUnavailable);

  RegistryOptions bad_ca = untrusted;
  bad_ca.ca_file = (tls.dir / "missing.crt").string();
  auto refused = ImageLookup::create(bad_ca);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().file() == bad_ca.ca_file);
}

TEST_CASE("mirrors: docker.io lookups go to the mirror only, under its path prefix") {
  FakeRegistry mirror;
  Push nginx = single_image("library/nginx", "1.25", app_spec("101"));
  mirror.push(nginx);
  nginx.repository = "hub/library/nginx";
  mirror.push(nginx);

  RegistryOptions o = local_options({mirror.host()});
  o.mirrors = {{"docker.io", mirror.host()}};
  auto lookup = make_lookup(o);
  const ImageFacts& f = facts(lookup->lookup("nginx:1.25"));
  CHECK(f.registry == "docker.io");
  CHECK(f.images.at(0).config->user == "101");
  CHECK(mirror.count("GET", "/v2/library/nginx/manifests/1.25") == 1);

  o.mirrors = {{"docker.io", mirror.host() + "/hub"}};
  CHECK(facts(make_lookup(o)->lookup("docker.io/library/nginx:1.25")).images.size() == 1);
  CHECK(mirror.count("GET", "/v2/hub/library/nginx/manifests/1.25") == 1);

  const ImageResult missing = make_lookup(o)->lookup("redis:7");
  CHECK(failure(missing).find("registry " + mirror.host() + " (mirror of docker.io) has no manifest") !=
        std::string::npos);

  o.mirrors = {{"docker.io", "https://mirror.example.com"}};
  auto bad = ImageLookup::create(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().key() == "mirrors.docker.io");
}

TEST_CASE("options are checked when the lookup is created") {
  RegistryOptions o;
  o.platforms = {"linux/amd64", "linux"};
  auto bad = ImageLookup::create(o);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().key() == "platforms");
  o = RegistryOptions();
  o.timeout_seconds = 0;
  CHECK(ImageLookup::create(o).error().key() == "timeoutSeconds");
  o = RegistryOptions();
  o.credentials_json = R"({"auths":{"ghcr.io":{"auth":"bm8tY29sb24tc2VjcmV0"}}})";  // "no-colon-secret"
  bad = ImageLookup::create(o);
  REQUIRE_FALSE(bad.ok());
  check_no_secret(bad.error().to_string(), {"no-colon-secret", "bm8tY29sb24tc2VjcmV0"});
}

}  // namespace
}  // namespace podguard::testing

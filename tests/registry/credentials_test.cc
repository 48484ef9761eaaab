#include <doctest/doctest.h>

#include "registry/auth_challenge.h"
#include "registry/docker_credentials.h"

namespace podguard::registry {
namespace {

// base64("ci-bot:pa55-word") and base64("hub-user:hub-pass").
constexpr const char* kConfig = R"({
  "auths": {
    "ghcr.io": {"auth": "Y2ktYm90OnBhNTUtd29yZA=="},
    "https://index.docker.io/v1/": {"auth": "aHViLXVzZXI6aHViLXBhc3M="},
    "registry.example.com": {"username": "team", "password": "whole-registry"},
    "https://registry.example.com/payments/": {"username": "payments", "password": "payments-only"},
    "*.azurecr.io": {"username": "00000000-0000-0000-0000-000000000000", "identitytoken": "eyJhbGciOi.refresh"},
    "quay.io": {"registrytoken": "bearer-as-is"},
    "localhost:5000": {"auth": "dXNlcjpwYXNzOndpdGg6Y29sb25z"},
    "empty.example.com": {}
  },
  "credsStore": "desktop",
  "credHelpers": {"gcr.io": "gcloud"}
})";

TEST_CASE("docker config.json: each way of writing a login, matched like the kubelet matches") {
  auto creds = DockerCredentials::parse(kConfig);
  REQUIRE_MESSAGE(creds.ok(), creds.status().to_string());
  CHECK(creds->size() == 7);  // the empty entry holds nothing

  const RegistryCredential* c = creds->find("ghcr.io", "acme/api");
  REQUIRE(c != nullptr);
  CHECK(c->username == "ci-bot");
  CHECK(c->password == "pa55-word");

  for (const char* hub : {"docker.io", "index.docker.io", "registry-1.docker.io"}) {
    INFO(hub);
    c = creds->find(hub, "library/nginx");
    REQUIRE(c != nullptr);
    CHECK(c->username == "hub-user");
  }

  c = creds->find("registry.example.com", "payments/api");
  REQUIRE(c != nullptr);
  CHECK(c->password == "payments-only");  // the longest path wins
  c = creds->find("registry.example.com", "payments-legacy/api");
  REQUIRE(c != nullptr);
  CHECK(c->password == "whole-registry");  // a path prefix ends at a '/'
  c = creds->find("REGISTRY.example.com", "payments");
  REQUIRE(c != nullptr);
  CHECK(c->password == "payments-only");

  c = creds->find("acme.azurecr.io", "app");
  REQUIRE(c != nullptr);
  CHECK(c->identity_token == "eyJhbGciOi.refresh");
  CHECK(creds->find("azurecr.io", "app") == nullptr);
  CHECK(creds->find("a.b.azurecr.io", "app") == nullptr);

  c = creds->find("quay.io", "org/app");
  REQUIRE(c != nullptr);
  CHECK(c->registry_token == "bearer-as-is");

  c = creds->find("localhost:5000", "app");
  REQUIRE(c != nullptr);
  CHECK(c->username == "user");
  CHECK(c->password == "pass:with:colons");  // split at the first ':'

  CHECK(creds->find("localhost:5001", "app") == nullptr);
  CHECK(creds->find("gcr.io", "project/app") == nullptr);  // credHelpers are not run
  CHECK(creds->find("empty.example.com", "app") == nullptr);
}

TEST_CASE("the older .dockercfg shape and a config.json without logins") {
  auto old =
      DockerCredentials::parse(R"({"https://registry.example.com": {"auth": "dXNlcjpwYXNz", "email": "a@b.c"}})");
  REQUIRE_MESSAGE(old.ok(), old.status().to_string());
  REQUIRE(old->find("registry.example.com", "x") != nullptr);
  CHECK(old->find("registry.example.com", "x")->password == "pass");

  for (const char* none : {R"({})", R"({"credsStore": "osxkeychain"})", R"({"auths": {}})",
                           R"({"detachKeys": "ctrl-e,e", "HttpHeaders": {"X-Meta": "1"}})"}) {
    INFO(none);
    auto parsed = DockerCredentials::parse(none);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
    CHECK(parsed->size() == 0);
  }
}

TEST_CASE("entries merged from two sources: the first source wins a tie") {
  auto inline_creds = DockerCredentials::parse(R"({"auths":{"ghcr.io":{"username":"inline","password":"a"}}})");
  auto file_creds = DockerCredentials::parse(R"({"auths":{"ghcr.io":{"username":"file","password":"b"},
                                                          "quay.io":{"username":"file","password":"c"}}})");
  REQUIRE(inline_creds.ok());
  REQUIRE(file_creds.ok());
  DockerCredentials both = *inline_creds;
  both.merge(*file_creds);
  CHECK(both.find("ghcr.io", "x")->username == "inline");
  CHECK(both.find("quay.io", "x")->username == "file");
}

TEST_CASE("a malformed docker config names the entry, never the secret") {
  const char* cases[] = {
      R"({"auths": {"ghcr.io": {"auth": "not base64 !!! hunter2"}}})",
      R"({"auths": {"ghcr.io": {"auth": "aHVudGVyMg=="}}})",  // base64("hunter2"): no ':'
      R"({"auths": {"ghcr.io": {"password": ["hunter2"]}}})",
      R"({"auths": {"ghcr.io": "hunter2"}})",
      R"({"auths": "hunter2"})",
      R"({"auths": {"ghcr.io": {"auth": "hunter2"})",
      R"("hunter2")",
  };
  for (const char* text : cases) {
    INFO(text);
    auto parsed = DockerCredentials::parse(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code() == StatusCode::kInvalidInput);
    CHECK(parsed.error().to_string().find("hunter2") == std::string::npos);
    CHECK(parsed.error().to_string().find("aHVudGVyMg") == std::string::npos);
  }
  auto named = DockerCredentials::parse(cases[0]);
  CHECK(named.error().key() == "auths.ghcr.io");
}

TEST_CASE("WWW-Authenticate: the challenges registries send") {
  // Docker Hub
  auto c = parse_www_authenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull")");
  REQUIRE(c);
  CHECK(c->scheme == AuthChallenge::Scheme::kBearer);
  CHECK(c->realm == "https://auth.docker.io/token");
  CHECK(c->service == "registry.docker.io");
  CHECK(c->scope == "repository:library/nginx:pull");

  // distribution with htpasswd
  c = parse_www_authenticate(R"(Basic realm="basic-realm")");
  REQUIRE(c);
  CHECK(c->scheme == AuthChallenge::Scheme::kBasic);
  CHECK(c->realm == "basic-realm");

  // Spaces, case, unquoted values, escapes, an error parameter, several scopes.
  c = parse_www_authenticate(
      R"(bearer  Realm = "https://ghcr.io/token" , service=ghcr.io, scope="repository:a/b:pull,push", error="insufficient_scope", x="q\"uote")");
  REQUIRE(c);
  CHECK(c->realm == "https://ghcr.io/token");
  CHECK(c->service == "ghcr.io");
  CHECK(c->scope == "repository:a/b:pull,push");

  // Bearer preferred to Basic when both are offered, in either order.
  for (const char* both : {R"(Basic realm="r", Bearer realm="https://t/token",service="s")",
                           R"(Bearer realm="https://t/token",service="s", Basic realm="r")"}) {
    INFO(both);
    c = parse_www_authenticate(both);
    REQUIRE(c);
    CHECK(c->scheme == AuthChallenge::Scheme::kBearer);
    CHECK(c->realm == "https://t/token");
    CHECK(c->service == "s");
  }

  for (const char* unusable : {"", "Negotiate", "Digest realm=\"x\", nonce=\"y\"", "Bearer service=\"no realm\"",
                               "Bearer realm=\"unterminated", "=", "Bearer realm"}) {
    INFO(unusable);
    CHECK_FALSE(parse_www_authenticate(unusable));
  }
}

}  // namespace
}  // namespace podguard::registry

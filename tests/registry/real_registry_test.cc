// Against a real registry: Debian's docker-registry (distribution v2),
// started by each test on 127.0.0.1 and stopped by PID; images pushed
// through the registry API by the test itself, and with docker build +
// docker push where a Docker engine runs. Skipped, saying why, when the
// docker-registry package is not installed (scripts/test installs it).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "registry/docker_registry.h"
#include "registry/lookup_fixture.h"
#include "subprocess.h"

namespace podguard::testing {
namespace {

using registry::ImageResult;
using registry::RegistryOptions;

#define REQUIRE_DOCKER_REGISTRY()                                                                     \
  if (DockerRegistry::binary().empty()) {                                                             \
    MESSAGE("skipping: Debian's docker-registry is not installed (apt-get install docker-registry)"); \
    return;                                                                                           \
  }

ConfigSpec with_user(std::optional<std::string> user) {
  ConfigSpec s;
  s.user = std::move(user);
  s.healthcheck = std::vector<std::string>{"CMD", "/app/healthcheck"};
  s.labels = {{"org.opencontainers.image.source", "https://github.com/acme/app"},
              {"org.opencontainers.image.revision", "3f9c2ab"},
              {"org.opencontainers.image.version", "1.4.2"}};
  s.history = {"ADD file:0123 in /", "COPY /out/server /app/server # buildkit"};
  return s;
}

std::string basic(const std::string& user, const std::string& password) {
  return "Basic " + base64(user + ":" + password);
}

TEST_CASE("docker-registry, open: each USER form, secrets, build tools, healthchecks, indexes, in one batch") {
  REQUIRE_DOCKER_REGISTRY();
  DockerRegistry reg;
  const std::vector<std::pair<std::string, std::optional<std::string>>> users = {
      {"none", std::nullopt}, {"empty", ""},         {"root", "root"},    {"zero", "0"},
      {"numeric", "1001"},    {"pair", "1001:1001"}, {"name", "appuser"}, {"name-group", "appuser:group"}};
  for (const auto& [tag, user] : users) reg.push(single_image("contract/users", tag, with_user(user)));

  ConfigSpec secrets = with_user("1001");
  secrets.env.push_back("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  secrets.history.push_back(
      "RUN |1 GITHUB_TOKEN=ghp_R2D2C3POR2D2C3POR2D2C3POR2D2C3POR2D2 /bin/sh -c ./fetch-deps # buildkit");
  reg.push(single_image("contract/secrets", "1", secrets, true));

  ConfigSpec tools = with_user("1001");
  tools.history.push_back(
      "RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends gcc make # buildkit");
  reg.push(single_image("contract/build-tools", "1", tools));

  ConfigSpec no_check = with_user("1001");
  no_check.healthcheck.reset();
  reg.push(single_image("contract/healthcheck", "none", no_check));
  ConfigSpec disabled = with_user("1001");
  disabled.healthcheck = std::vector<std::string>{"NONE"};
  reg.push(single_image("contract/healthcheck", "disabled", disabled));

  ConfigSpec amd = with_user("1001");
  ConfigSpec arm = with_user("1002");
  arm.architecture = "arm64";
  arm.variant = "v8";
  const Push oci_index = multi_platform("contract/multi", "1", {amd, arm}, true, true);
  reg.push(oci_index);
  const Push docker_list = multi_platform("contract/multi", "list", {amd, arm}, false, false);
  reg.push(docker_list);
  const Push arm_only = multi_platform("contract/arm-only", "1", {arm}, false, true);
  reg.push(arm_only);

  CapturedLog log;
  RegistryOptions o = local_options({reg.host()}, &log);
  o.platforms = {"linux/amd64", "linux/arm64"};
  auto lookup = make_lookup(o);
  std::vector<std::string> images;
  for (const auto& [tag, user] : users) images.push_back(reg.host() + "/contract/users:" + tag);
  const std::size_t first_other = images.size();
  for (const char* image : {"/contract/secrets:1", "/contract/build-tools:1", "/contract/healthcheck:none",
                            "/contract/healthcheck:disabled", "/contract/multi:1", "/contract/multi:list",
                            "/contract/arm-only:1", "/contract/users:missing", "/contract/nothing-here:1"}) {
    images.push_back(reg.host() + image);
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<ImageResult> results = lookup->lookup_all(images);
  MESSAGE("looked up " << images.size() << " images in " << seconds_since(start) << " s");
  REQUIRE(results.size() == images.size());

  for (std::size_t i = 0; i < users.size(); ++i) {
    INFO(images[i]);
    const ImageFacts& f = facts(results[i]);
    REQUIRE(f.images.size() == 1);
    CHECK(f.images[0].config->user == users[i].second.value_or(""));
    CHECK(f.images[0].config->has_healthcheck());
    CHECK(f.images[0].config->label("org.opencontainers.image.revision") != nullptr);
  }
  const ImageConfig& secret_config = *facts(results[first_other]).images.at(0).config;
  CHECK(secret_config.env.back().name == "AWS_SECRET_ACCESS_KEY");
  CHECK(secret_config.history.back().created_by.find("GITHUB_TOKEN=ghp_") != std::string::npos);
  // The facts carry what the image holds; nothing logs it.
  check_no_secret(log.text(), {"wJalrXUtnFEMI", "ghp_R2D2"});

  const ImageConfig& tools_config = *facts(results[first_other + 1]).images.at(0).config;
  CHECK(tools_config.history.back().created_by.find("apt-get install -y --no-install-recommends gcc make") !=
        std::string::npos);
  CHECK_FALSE(tools_config.history.back().empty_layer);

  CHECK_FALSE(facts(results[first_other + 2]).images.at(0).config->healthcheck);
  CHECK(facts(results[first_other + 3]).images.at(0).config->healthcheck->disabled());

  for (std::size_t i : {first_other + 4, first_other + 5}) {
    INFO(images[i]);
    const ImageFacts& f = facts(results[i]);
    CHECK(f.multi_platform);
    CHECK(f.digest == (i == first_other + 4 ? oci_index.digest() : docker_list.digest()));
    REQUIRE(f.offered.size() == 2);
    REQUIRE(f.images.size() == 2);
    CHECK(f.images[0].platform.to_string() == "linux/amd64");
    CHECK(f.images[0].config->user == "1001");
    CHECK(f.images[1].platform.to_string() == "linux/arm64/v8");
    CHECK(f.images[1].config->user == "1002");
  }

  const ImageFacts& arm_facts = facts(results[first_other + 6]);
  REQUIRE(arm_facts.images.size() == 1);
  CHECK(arm_facts.images[0].platform.architecture == "arm64");
  RegistryOptions amd64_only = local_options({reg.host()});
  const ImageFacts& none = facts(make_lookup(amd64_only)->lookup(reg.host() + "/contract/arm-only:1"));
  CHECK(none.images.empty());  // image-platform's case
  CHECK(none.offered.size() == 1);

  for (std::size_t i : {first_other + 7, first_other + 8}) {
    INFO(images[i]);
    CHECK(results[i].error().code() == StatusCode::kNotFound);
    CHECK(failure(results[i]).find("registry " + reg.host() + " has no manifest") != std::string::npos);
  }
  CHECK(failure(results[first_other + 7]).find("MANIFEST_UNKNOWN") != std::string::npos);
}

TEST_CASE("docker-registry with htpasswd: Basic with the login, refused without it or with a wrong one") {
  REQUIRE_DOCKER_REGISTRY();
  DockerRegistry reg({.user = "ci", .password = "Pa55-htpasswd"});
  const Push app = single_image("private/app", "1", with_user("1001"));
  reg.push(app, basic("ci", "Pa55-htpasswd"));

  RegistryOptions o = local_options({reg.host()});
  o.credentials_json = R"({"auths":{"http://)" + reg.host() + R"(/v2/":{"username":"ci","password":"Pa55-htpasswd"}}})";
  const ImageFacts& f = facts(make_lookup(o)->lookup(reg.host() + "/private/app:1"));
  CHECK(f.digest == app.digest());
  CHECK(f.images.at(0).config->user == "1001");

  CapturedLog log;
  const ImageResult anonymous = make_lookup(local_options({reg.host()}, &log))->lookup(reg.host() + "/private/app:1");
  CHECK(anonymous.error().code() == StatusCode::kPermissionDenied);
  CHECK(failure(anonymous).find("registry " + reg.host() + " asks for a login (Basic)") != std::string::npos);

  RegistryOptions wrong = local_options({reg.host()}, &log);
  wrong.credentials_json = R"({"auths":{")" + reg.host() + R"(":{"auth":")" + base64("ci:Wr0ng-htpasswd") + R"("}}})";
  const ImageResult refused = make_lookup(wrong)->lookup(reg.host() + "/private/app:1");
  CHECK(refused.error().code() == StatusCode::kPermissionDenied);
  CHECK(failure(refused).find("registry " + reg.host() + " refused access") != std::string::npos);
  check_no_secret(failure(anonymous) + failure(refused) + log.text(),
                  {"Pa55-htpasswd", "Wr0ng-htpasswd", base64("ci:Wr0ng-htpasswd"), base64("ci:Pa55-htpasswd")});
}

TEST_CASE("docker-registry with token auth: the real Bearer flow with JWTs it verifies") {
  REQUIRE_DOCKER_REGISTRY();
  const TempDir dir("podguard-jwt");
  JwtTokenServer anonymous_tokens("", "", dir / "anonymous.pem");
  JwtTokenServer login_tokens("robot", "T0ken-login", dir / "login.pem");
  for (JwtTokenServer* tokens : {&anonymous_tokens, &login_tokens}) {
    const bool needs_login = tokens == &login_tokens;
    INFO(needs_login);
    DockerRegistry reg({.token_realm = tokens->realm(),
                        .token_service = JwtTokenServer::kService,
                        .token_issuer = JwtTokenServer::kIssuer,
                        .token_root_bundle = (dir / (needs_login ? "login.pem" : "anonymous.pem")).string()});
    const Push app = single_image("team/app", "1", with_user("1001"));
    reg.push(app, "Bearer " + tokens->token("repository:team/app:pull,push"));

    CapturedLog log;
    RegistryOptions o = local_options({reg.host(), tokens->host()}, &log);
    if (needs_login) {
      o.credentials_json = R"({"auths":{")" + reg.host() + R"(":{"auth":")" + base64("robot:T0ken-login") + R"("}}})";
    }
    auto lookup = make_lookup(o);
    const ImageFacts& f = facts(lookup->lookup(reg.host() + "/team/app:1"));
    CHECK(f.digest == app.digest());
    CHECK(f.images.at(0).config->user == "1001");
    const auto asked = tokens->seen();
    REQUIRE(asked.size() == 1);  // one token serves the manifest and the config
    CHECK(asked[0].path.find("scope=repository:team/app:pull") != std::string::npos);
    CHECK(asked[0].path.find(std::string("service=") + JwtTokenServer::kService) != std::string::npos);
    CHECK(asked[0].authorization == (needs_login ? basic("robot", "T0ken-login") : ""));
    check_no_secret(log.text(), {"T0ken-login", base64("robot:T0ken-login"), "eyJ"});

    if (needs_login) {
      const ImageResult refused =
          make_lookup(local_options({reg.host(), login_tokens.host()}))->lookup(reg.host() + "/team/app:1");
      CHECK(refused.error().code() == StatusCode::kPermissionDenied);
      CHECK(failure(refused).find("refused an anonymous token") != std::string::npos);
    }
  }
}

TEST_CASE("docker-registry over TLS: trusted through caFile only") {
  REQUIRE_DOCKER_REGISTRY();
  const TlsFiles tls;
  DockerRegistry reg({.cert_file = tls.cert, .key_file = tls.key});
  reg.push(single_image("app", "1", with_user("1001")));

  RegistryOptions system_only;
  const ImageResult untrusted = make_lookup(system_only)->lookup(reg.host() + "/app:1");
  CHECK(untrusted.error().code() == StatusCode::kUnavailable);
  CHECK(failure(untrusted).find("not trusted") != std::string::npos);
  RegistryOptions with_ca;
  with_ca.ca_file = tls.ca;
  CHECK(facts(make_lookup(with_ca)->lookup(reg.host() + "/app:1")).images.at(0).config->user == "1001");
}

TEST_CASE("docker build + docker push of a FROM scratch image, then looked up") {
  REQUIRE_DOCKER_REGISTRY();
  DockerRegistry reg;
  const TempDir dir("podguard-docker-build");
  std::ofstream(dir / "hello.txt") << "hello from podguard's tests\n";
  std::ofstream(dir / "Dockerfile") << "FROM scratch\n"
                                       "COPY hello.txt /hello.txt\n"
                                       "ENV APP_MODE=production\n"
                                       "LABEL org.opencontainers.image.source=https://example.com/podguard-test\n"
                                       "USER 1001:1001\n"
                                       "HEALTHCHECK CMD [\"/hello\"]\n"
                                       "ENTRYPOINT [\"/hello\"]\n";
  const std::string image = reg.host() + "/podguard-test/scratch:1";
  // The script starts a dockerd when none runs, and stops it (scripts/docker-env.sh).
  const auto pushed = run_process({PODGUARD_SOURCE_DIR "/tests/registry/docker_push.sh", image, dir.path().string()});
  if (pushed.exit_code == 77) {
    MESSAGE("skipping: no Docker engine can run here: " << pushed.err);
    return;
  }
  REQUIRE_MESSAGE(pushed.exit_code == 0, (pushed.out + pushed.err));

  const ImageFacts& f = facts(make_lookup(local_options({reg.host()}))->lookup(image));
  REQUIRE(f.images.size() == 1);
  const ImageConfig& c = *f.images[0].config;
  CHECK(c.user == "1001:1001");
  CHECK(c.has_healthcheck());
  CHECK(c.healthcheck->test == std::vector<std::string>{"CMD", "/hello"});
  REQUIRE(c.label("org.opencontainers.image.source") != nullptr);
  CHECK(c.env.back().name == "APP_MODE");
  REQUIRE_FALSE(c.history.empty());
  bool copied = false;
  for (const auto& h : c.history) copied = copied || h.created_by.find("hello.txt") != std::string::npos;
  CHECK(copied);
}

}  // namespace
}  // namespace podguard::testing

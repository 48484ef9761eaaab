#include "engine/reading/image_config.h"

#include <doctest/doctest.h>

namespace podguard {
namespace {

// The config blob of an image built by the classic builder (docker build
// without BuildKit), as the registry serves it: Docker's extra keys, nulls
// for empty fields, container_config of the last build step.
constexpr const char* kDockerConfig = R"({
  "architecture": "amd64",
  "config": {
    "Hostname": "", "Domainname": "", "User": "1001:1001",
    "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
    "ExposedPorts": {"8443/tcp": {}, "8080/tcp": {}},
    "Tty": false, "OpenStdin": false, "StdinOnce": false,
    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_MODE=production", "EMPTY=", "NOEQUALS"],
    "Cmd": null,
    "Healthcheck": {"Test": ["CMD", "/app/healthcheck", "--quiet"], "Interval": 30000000000, "Timeout": 5000000000, "StartPeriod": 10000000000, "Retries": 3},
    "Image": "sha256:5d0da3dc976460b72c77d94c8a1ad043720b0416bfc16c52c45d4847e53fadb6",
    "Volumes": null, "WorkingDir": "/app",
    "Entrypoint": ["/app/server", "--port=8080"],
    "OnBuild": null,
    "Labels": {"org.opencontainers.image.version": "1.4.2", "org.opencontainers.image.source": "https://github.com/acme/api"},
    "StopSignal": "SIGTERM"
  },
  "container": "3b5e5ba2b6d9c7ea1c2cd4c1f6f0c5a40d5ec0d7b0c0e3c6e1cbbf0c8f0f4a1e",
  "container_config": {"User": "", "Env": ["PATH=/usr/bin"], "Cmd": ["/bin/sh", "-c", "#(nop) ", "USER 1001:1001"]},
  "created": "2024-03-02T14:21:07.123456789Z",
  "docker_version": "24.0.7",
  "history": [
    {"created": "2024-02-13T00:37:42Z", "created_by": "/bin/sh -c #(nop) ADD file:b86ae1c7ca3586d8feedcd9ff1b2b1e8ab872caf6587618f1da689045a5d7ae4 in / "},
    {"created": "2024-02-13T00:37:43Z", "created_by": "/bin/sh -c #(nop)  CMD [\"bash\"]", "empty_layer": true},
    {"created": "2024-03-02T14:20:01Z", "created_by": "/bin/sh -c apt-get update && apt-get install -y --no-install-recommends gcc make"},
    {"created": "2024-03-02T14:21:07Z", "created_by": "/bin/sh -c #(nop)  USER 1001:1001", "empty_layer": true}
  ],
  "os": "linux",
  "rootfs": {"type": "layers", "diff_ids": ["sha256:ae2d55769c5efcb6230d27c88eef033128fa1d1fdb0e6fdb8a7ff1fbd3e76e4b"]}
})";

// BuildKit's config for an arm64 image: OCI media types, a variant, the
// Dockerfile instructions in history, HEALTHCHECK NONE, no User key.
constexpr const char* kBuildkitArm64Config = R"({
  "architecture": "arm64",
  "variant": "v8",
  "os": "linux",
  "created": "2024-05-01T10:00:00Z",
  "config": {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "DB_PASSWORD=hunter2"],
    "Cmd": ["node", "server.js"],
    "WorkingDir": "/srv",
    "Healthcheck": {"Test": ["NONE"]},
    "ArgsEscaped": true
  },
  "rootfs": {"type": "layers", "diff_ids": []},
  "history": [
    {"created": "2024-05-01T10:00:00Z", "created_by": "ARG TOKEN=ghp_0123456789abcdef", "comment": "buildkit.dockerfile.v0", "empty_layer": true},
    {"created": "2024-05-01T10:00:00Z", "created_by": "RUN |1 TOKEN=ghp_0123456789abcdef /bin/sh -c npm ci # buildkit", "comment": "buildkit.dockerfile.v0"}
  ]
})";

TEST_CASE("a classic docker build's config: every field podguard judges") {
  auto parsed = parse_image_config(kDockerConfig);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
  const ImageConfig& c = *parsed;
  CHECK(c.os == "linux");
  CHECK(c.architecture == "amd64");
  CHECK(c.variant.empty());
  CHECK(c.user == "1001:1001");  // config.User, not container_config's
  REQUIRE(c.env.size() == 4);
  CHECK(c.env[1] == ImageEnvVar{"APP_MODE", "production"});
  CHECK(c.env[2] == ImageEnvVar{"EMPTY", ""});
  CHECK(c.env[3] == ImageEnvVar{"NOEQUALS", ""});
  REQUIRE(c.labels.size() == 2);
  CHECK(c.labels[0].first == "org.opencontainers.image.source");  // sorted
  REQUIRE(c.label("org.opencontainers.image.version") != nullptr);
  CHECK(*c.label("org.opencontainers.image.version") == "1.4.2");
  CHECK(c.label("org.opencontainers.image.revision") == nullptr);
  REQUIRE(c.healthcheck);
  CHECK(c.has_healthcheck());
  CHECK(c.healthcheck->test == std::vector<std::string>{"CMD", "/app/healthcheck", "--quiet"});
  CHECK(c.healthcheck->interval_ns == 30000000000);
  CHECK(c.healthcheck->timeout_ns == 5000000000);
  CHECK(c.healthcheck->start_period_ns == 10000000000);
  CHECK(c.healthcheck->retries == 3);
  REQUIRE(c.entrypoint);
  CHECK(*c.entrypoint == std::vector<std::string>{"/app/server", "--port=8080"});
  CHECK_FALSE(c.cmd);  // null
  CHECK(c.working_dir == "/app");
  CHECK(c.exposed_ports == std::vector<std::string>{"8080/tcp", "8443/tcp"});
  CHECK(c.stop_signal == "SIGTERM");
  CHECK(c.created == "2024-03-02T14:21:07.123456789Z");
  REQUIRE(c.history.size() == 4);
  CHECK(c.history[1].empty_layer);
  CHECK_FALSE(c.history[2].empty_layer);
  CHECK(c.history[2].created_by.find("apt-get install -y --no-install-recommends gcc make") != std::string::npos);
}

TEST_CASE("a BuildKit arm64 config: variant, HEALTHCHECK NONE, no USER, build args in history") {
  auto parsed = parse_image_config(kBuildkitArm64Config);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
  const ImageConfig& c = *parsed;
  CHECK(c.architecture == "arm64");
  CHECK(c.variant == "v8");
  CHECK(c.user.empty());
  REQUIRE(c.healthcheck);
  CHECK(c.healthcheck->disabled());
  CHECK_FALSE(c.has_healthcheck());
  CHECK_FALSE(c.entrypoint);
  REQUIRE(c.cmd);
  CHECK(*c.cmd == std::vector<std::string>{"node", "server.js"});
  CHECK(c.env[1].value == "hunter2");
  REQUIRE(c.history.size() == 2);
  CHECK(c.history[0].comment == "buildkit.dockerfile.v0");
  CHECK(c.history[1].created_by.rfind("RUN |1 TOKEN=", 0) == 0);
}

TEST_CASE("USER is kept exactly as written, in each form") {
  for (const char* user : {"", "root", "0", "1001", "1001:1001", "appuser", "appuser:group", "0:0"}) {
    INFO(user);
    auto parsed = parse_image_config(std::string(R"({"os":"linux","config":{"User":")") + user + R"("}})");
    REQUIRE(parsed.ok());
    CHECK(parsed->user == user);
  }
}

TEST_CASE("a config with nothing but nulls and empties is an image with no settings") {
  for (const char* text : {R"({})", R"({"config":null,"history":null})",
                           R"({"config":{"User":null,"Env":null,"Labels":null,"Healthcheck":null,"Entrypoint":null}})",
                           R"({"config":{"Healthcheck":{}}})"}) {
    INFO(text);
    auto parsed = parse_image_config(text);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
    CHECK(parsed->user.empty());
    CHECK(parsed->env.empty());
    CHECK(parsed->labels.empty());
    CHECK_FALSE(parsed->has_healthcheck());
  }
  // An empty Healthcheck object inherits the base image's: declared, but no test to run.
  auto inherit = parse_image_config(R"({"config":{"Healthcheck":{}}})");
  REQUIRE(inherit->healthcheck);
  CHECK(inherit->healthcheck->test.empty());
}

TEST_CASE("malformed configs are invalid input naming the field, never quoting a value") {
  struct Case {
    const char* text;
    const char* key;  // expected in the Status, "" for syntax errors
  };
  const Case cases[] = {
      {R"({"config":{"Env":"SECRET_TOKEN=abc123"}})", "config.Env"},
      {R"({"config":{"Env":["SECRET_TOKEN=abc123", 7]}})", "config.Env"},
      {R"({"config":{"User":1001}})", "config.User"},
      {R"({"config":{"Labels":{"a":1}}})", "config.Labels"},
      {R"({"config":{"Labels":["SECRET_TOKEN=abc123"]}})", "config.Labels"},
      {R"({"config":{"Healthcheck":{"Test":"CMD SECRET_TOKEN=abc123"}}})", "config.Healthcheck.Test"},
      {R"({"config":{"Healthcheck":{"Interval":"30s"}}})", "config.Healthcheck.Interval"},
      {R"({"config":{"Healthcheck":[]}})", "config.Healthcheck"},
      {R"({"config":{"Entrypoint":"/bin/sh -c SECRET_TOKEN=abc123"}})", "config.Entrypoint"},
      {R"({"config":"SECRET_TOKEN=abc123"})", "config"},
      {R"({"history":[{"created_by":"RUN x"},{"empty_layer":"yes"}]})", "history[1].empty_layer"},
      {R"({"history":{"created_by":"SECRET_TOKEN=abc123"}})", "history"},
      {R"({"os":["linux"]})", "os"},
      {R"(["SECRET_TOKEN=abc123"])", ""},
      {R"({"config":{"Env":["SECRET_TOKEN=abc123"])", ""},
      {"", ""},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto parsed = parse_image_config(c.text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code() == StatusCode::kInvalidInput);
    CHECK(parsed.error().key() == c.key);
    CHECK(parsed.error().to_string().find("abc123") == std::string::npos);
  }
}

}  // namespace
}  // namespace podguard

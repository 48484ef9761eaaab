// What a Dockerfile means (engine/facts/dockerfile_facts.h): stages and
// their FROM <stage> chains, variable scopes, inherited settings, and the
// packages RUN installs (package_installs.h).
#include <doctest/doctest.h>

#include <string>

#include "engine/facts/dockerfile_facts.h"
#include "engine/facts/package_installs.h"

namespace podguard {
namespace {

DockerfileFacts facts(std::string_view text) {
  Result<Dockerfile> r = parse_dockerfile(text);
  INFO(text);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return DockerfileFacts(std::move(r).value());
}

const DockerfileValue& find(const std::vector<DockerfileValue>& values, std::string_view name) {
  for (const DockerfileValue& v : values) {
    if (v.name == name) return v;
  }
  FAIL("no value named " << name);
  return values.front();
}

std::vector<std::string> installed(std::string_view script) {
  std::vector<std::string> out;
  for (const PackageInstall& p : package_installs({script}, nullptr)) {
    out.push_back(p.package + (p.removed ? " (removed)" : ""));
  }
  return out;
}

}  // namespace

TEST_CASE("stages, names and FROM <stage> chains") {
  const DockerfileFacts d = facts(
      "ARG BASE=debian:12-slim\n"
      "FROM ${BASE} AS Base\n"
      "USER 1001\n"
      "FROM golang:1.22 AS build\n"
      "RUN go build -o /out/app ./cmd/app\n"
      "FROM base AS runtime\n"
      "COPY --from=build /out/app /app\n");
  REQUIRE(d.stages().size() == 3);
  CHECK(d.stages()[0].base == "debian:12-slim");
  CHECK(d.stages()[0].base_pos == SourcePos{2, 6});
  CHECK(d.stages()[0].name == "Base");
  CHECK_FALSE(d.stages()[0].parent);
  CHECK(d.stages()[2].parent == 0u);  // stage names are case-insensitive
  CHECK(d.lineage(2) == std::vector<std::size_t>{2, 0});
  CHECK(d.root(2).base == "debian:12-slim");
  CHECK(d.final_stage().display_name() == "runtime");
  CHECK(d.stage_of(0) == std::nullopt);
  CHECK(d.stage_of(2) == 0u);
  CHECK(d.stage_of(6) == 2u);
  CHECK(d.stages()[1].end == 5u);
  REQUIRE(d.final_stage().user);
  CHECK(d.final_stage().user->value == "1001");
  CHECK(d.final_stage().user->stage == 0u);

  SUBCASE("a FROM naming a later stage is an image, and unnamed stages go by index") {
    const DockerfileFacts later = facts("FROM later\nFROM alpine:3.19 AS later\n");
    CHECK_FALSE(later.stages()[0].parent);
    CHECK(later.stages()[0].display_name() == "0");
  }
}

TEST_CASE("ARGs before the first FROM are seen by FROM lines only, until a stage declares them") {
  const DockerfileFacts d = facts(
      "ARG VERSION=1.4.2\n"
      "ARG REGISTRY\n"
      "FROM ${REGISTRY:-docker.io}/library/alpine:3.19\n"
      "LABEL before=$VERSION\n"
      "ARG VERSION\n"
      "ARG LOCAL=x-${VERSION}\n"
      "LABEL after=$VERSION local=$LOCAL\n");
  CHECK(d.global_args().size() == 2);
  CHECK(d.global_arg("VERSION")->value == "1.4.2");
  CHECK_FALSE(d.global_arg("REGISTRY")->has_value);
  const DockerfileStage& st = d.final_stage();
  CHECK(st.base == "docker.io/library/alpine:3.19");
  CHECK(st.base_unset.empty());
  const DockerfileValue& before = find(st.labels, "before");
  CHECK(before.value.empty());
  CHECK(before.unset == std::vector<std::string>{"VERSION"});
  CHECK(find(st.labels, "after").value == "1.4.2");
  CHECK(find(st.labels, "local").value == "x-1.4.2");
  const DockerfileValue& redeclared = find(st.args, "VERSION");
  CHECK_FALSE(redeclared.has_value);
  CHECK(redeclared.value == "1.4.2");

  SUBCASE("an ARG with no value leaves FROM unresolved") {
    const DockerfileFacts u = facts("ARG TAG\nFROM app:${TAG}\n");
    CHECK(u.final_stage().base == "app:");
    CHECK(u.final_stage().base_unset == std::vector<std::string>{"TAG"});
  }
  SUBCASE("BuildKit's platform ARGs need no declaration in FROM") {
    const DockerfileFacts p = facts("FROM --platform=$BUILDPLATFORM golang:1.22-${TARGETOS} AS build\n");
    CHECK(p.final_stage().base == "golang:1.22-linux");
    CHECK(p.final_stage().base_unset.empty());
  }
}

TEST_CASE("ENV: inherited through FROM <stage>, wins over ARG, one instruction sees the values before it") {
  const DockerfileFacts d = facts(
      "FROM alpine:3.19 AS base\n"
      "ENV APP_HOME=/srv/app UID=1001\n"
      "FROM base\n"
      "ARG UID=0\n"
      "ENV APP_HOME=/opt/app OLD_HOME=$APP_HOME\n"
      "USER ${UID}:${UID}\n"
      "LABEL home=\"$APP_HOME\"\n");
  const DockerfileStage& st = d.final_stage();
  CHECK(find(st.env, "OLD_HOME").value == "/srv/app");
  CHECK(find(st.labels, "home").value == "/opt/app");
  CHECK_FALSE(find(st.labels, "home").literal);
  REQUIRE(st.user);
  CHECK(st.user->value == "1001:1001");

  SUBCASE("the old ENV NAME value form") {
    const DockerfileFacts legacy = facts("FROM a:1\nENV GREETING hello  world\nLABEL maintainer Jane Doe\n");
    CHECK(find(legacy.final_stage().env, "GREETING").value == "hello  world");
    CHECK(find(legacy.final_stage().labels, "maintainer").value == "Jane Doe");
  }
  SUBCASE("quoted label keys and values") {
    const DockerfileFacts q = facts("FROM a:1\nLABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0\n");
    CHECK(find(q.final_stage().labels, "com.example.vendor").value == "ACME Inc");
    CHECK(find(q.final_stage().labels, "version").pos == SourcePos{2, 39});
  }
}

TEST_CASE("USER, HEALTHCHECK, ENTRYPOINT and CMD in force at the end of a stage") {
  const DockerfileFacts d = facts(
      "FROM debian:12 AS base\n"
      "HEALTHCHECK CMD [\"/probe\"]\n"
      "CMD [\"/bin/bash\"]\n"
      "FROM base AS app\n"
      "ENTRYPOINT [\"/app\"]\n"
      "FROM app AS same-stage\n"
      "CMD [\"serve\"]\n"
      "ENTRYPOINT [\"/app2\"]\n");
  CHECK(d.stages()[0].cmd == 2u);
  CHECK(d.stages()[1].healthcheck == 1u);
  CHECK(d.stages()[1].entrypoint == 4u);
  CHECK_FALSE(d.stages()[1].cmd);  // an ENTRYPOINT drops the CMD inherited from the base
  CHECK(d.stages()[2].cmd == 6u);  // ... but not one set before it in its own stage
  CHECK(d.stages()[2].entrypoint == 7u);
  CHECK_FALSE(d.stages()[0].user);
  const DockerfileValue* none = d.label(2, "anything");
  CHECK(none == nullptr);
}

TEST_CASE("labels are inherited, the last one wins") {
  const DockerfileFacts d = facts(
      "FROM a:1 AS base\nLABEL org.opencontainers.image.version=1 keep=yes\nFROM base\nLABEL "
      "org.opencontainers.image.version=2\n");
  CHECK(d.label(1, "org.opencontainers.image.version")->value == "2");
  CHECK(d.label(1, "keep")->value == "yes");
  CHECK(d.label(0, "org.opencontainers.image.version")->value == "1");
}

TEST_CASE("substituted values stay bounded however variables repeat") {
  std::string text = "FROM a:1\nENV A=" + std::string(1000, 'x') + "\n";
  const char* names[] = {"B", "C", "D", "E", "F", "G"};
  std::string prev = "A";
  for (const char* n : names) {
    text += std::string("ENV ") + n + "=";
    for (int i = 0; i < 16; ++i) text += "$" + prev;
    text += "\n";
    prev = n;
  }
  const DockerfileFacts d = facts(text);
  std::size_t total = 0;
  for (const DockerfileValue& v : d.final_stage().env) {
    CHECK(v.value.size() <= DockerfileFacts::kMaxExpandedBytes);
    total += v.value.size();
  }
  CHECK(total <= DockerfileFacts::kMaxExpandedTotal);
}

TEST_CASE("packages installed by apt-get, apk, dnf, yum, microdnf and zypper") {
  CHECK(installed("apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "
                  "-o Dpkg::Options::=--force-confold gcc=4:12.2.0-3 libssl-dev:amd64 curl/bookworm-backports") ==
        std::vector<std::string>{"gcc", "libssl-dev", "curl"});
  CHECK(installed("apk add --no-cache --virtual .build-deps gcc musl-dev && make && apk del .build-deps && apk add "
                  "ca-certificates") ==
        std::vector<std::string>{"gcc (removed)", "musl-dev (removed)", "ca-certificates"});
  CHECK(installed("apt-get install -y g++ make; make; apt-get purge -y --auto-remove g++") ==
        std::vector<std::string>{"g++ (removed)", "make"});
  CHECK(installed("dnf -y install gcc-c++ openssl-devel && dnf clean all") ==
        std::vector<std::string>{"gcc-c++", "openssl-devel"});
  CHECK(installed("yum groupinstall -y 'Development Tools'") == std::vector<std::string>{"Development Tools"});
  CHECK(installed("dnf group install -y \"C Development Tools and Libraries\"") ==
        std::vector<std::string>{"C Development Tools and Libraries"});
  CHECK(installed("microdnf install -y tar gzip") == std::vector<std::string>{"tar", "gzip"});
  CHECK(installed("zypper --non-interactive in -t pattern devel_basis") == std::vector<std::string>{"devel_basis"});
  CHECK(installed("sudo -E apt install -y ./local.deb cmake") == std::vector<std::string>{"cmake"});
  CHECK(installed("if true; then apt-get install -y make; fi") == std::vector<std::string>{"make"});
  CHECK(installed("set -eux; \\\n  apt-get install -y \\\n    ninja-build > /dev/null 2>&1") ==
        std::vector<std::string>{"ninja-build"});
  CHECK(installed("sh -c 'apt-get install -y gcc'") == std::vector<std::string>{"gcc"});
  CHECK(installed("echo apt-get install gcc # apt-get install make") == std::vector<std::string>{});
  CHECK(installed("pip install cmake && npm install -g typescript") == std::vector<std::string>{});

  SUBCASE("kinds, managers and where each word is") {
    const std::vector<PackageInstall> p = package_installs({"apt-get build-dep -y nginx", "apk add \\\n  gcc"}, nullptr);
    REQUIRE(p.size() == 2);
    CHECK(p[0].kind == PackageInstall::Kind::kBuildDeps);
    CHECK(p[0].manager == "apt-get");
    CHECK(p[0].offset == 21);
    CHECK(p[1].manager == "apk");
    CHECK(p[1].script == 1);
    CHECK(p[1].offset == 12);
  }
  SUBCASE("words with variables are expanded by the caller") {
    const WordExpansion expand = [](std::string_view raw) -> std::optional<std::string> {
      if (raw == "$BUILD_DEPS") return std::string("gcc make");
      return std::nullopt;
    };
    std::vector<std::string> names;
    for (const PackageInstall& p : package_installs({"apt-get install -y $BUILD_DEPS $UNKNOWN"}, expand)) {
      names.push_back(p.package);
    }
    CHECK(names == std::vector<std::string>{"gcc", "make"});
  }
}

TEST_CASE("RUN facts: the command, heredocs and exec form, with positions and stage variables") {
  const DockerfileFacts d = facts(
      "FROM debian:12\n"
      "ARG TOOLS=\"gcc make\"\n"
      "RUN apt-get update && apt-get install -y \\\n"
      "      $TOOLS libpq5\n"
      "RUN <<EOF\n"
      "set -e\n"
      "apt-get install -y cmake\n"
      "EOF\n"
      "RUN [\"apt-get\", \"install\", \"-y\", \"clang\"]\n");
  const auto& runs = d.final_stage().runs;
  REQUIRE(runs.size() == 3);
  REQUIRE(runs[0].installs.size() == 3);
  CHECK(runs[0].installs[0].package == "gcc");
  CHECK(runs[0].installs[0].pos == SourcePos{4, 7});
  CHECK(runs[0].installs[2].package == "libpq5");
  CHECK(runs[0].installs[2].pos == SourcePos{4, 14});
  REQUIRE(runs[1].installs.size() == 1);
  CHECK(runs[1].installs[0].pos == SourcePos{7, 20});
  REQUIRE(runs[2].installs.size() == 1);
  CHECK(runs[2].installs[0].package == "clang");
  CHECK(runs[2].installs[0].pos == SourcePos{9, 1});
}

}  // namespace podguard

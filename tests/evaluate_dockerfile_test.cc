// Judging Dockerfiles under a policy (engine/policy/evaluate_dockerfile.h):
// actions and profiles, config exemptions by path, stage and base image,
// inline `# podguard:ignore` comments, and what each verdict carries.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "engine/policy/config.h"
#include "engine/policy/evaluate_dockerfile.h"
#include "engine/rules/builtin.h"

namespace podguard {
namespace {

Policy policy(const std::string& body) {
  ConfigLoad load = load_config("apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\n" + body, builtin_rules());
  REQUIRE_MESSAGE(load.errors.empty(), format_config_errors("policy", load.errors));
  return std::move(*load.policy);
}

DockerfileVerdict judge(const Policy& p, std::string_view text, std::string_view path = "Dockerfile") {
  Result<Dockerfile> parsed = parse_dockerfile(text);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
  const DockerfileFacts facts(std::move(parsed).value());
  return evaluate_dockerfile(p, facts, path, {});
}

std::vector<std::string> rules_of(const std::vector<Violation>& violations) {
  std::vector<std::string> out;
  for (const Violation& v : violations) out.push_back(v.rule);
  return out;
}

// Breaks image-user (root) and image-build-tools (gcc) in the final stage.
constexpr std::string_view kBroken =
    "FROM golang:1.22 AS build\n"
    "RUN go build -o /out/app .\n"
    "FROM debian:12.5-slim AS runtime\n"
    "RUN apt-get update && apt-get install -y gcc\n"
    "HEALTHCHECK CMD [\"/app\", \"probe\"]\n"
    "LABEL org.opencontainers.image.source=s org.opencontainers.image.revision=r org.opencontainers.image.version=v\n"
    "USER root\n"
    "ENTRYPOINT [\"/app\"]\n";

}  // namespace

TEST_CASE("a Dockerfile verdict: kind, name, stage, path, position and file order") {
  const DockerfileVerdict d = judge(policy(""), kBroken, "docker/app.Dockerfile");
  const ObjectVerdict& v = d.verdict;
  CHECK(v.kind == "Dockerfile");
  CHECK(v.name == "docker/app.Dockerfile");
  CHECK(v.ns.empty());
  CHECK(v.checked);
  REQUIRE(rules_of(v.violations) == std::vector<std::string>{"image-build-tools", "image-user"});
  CHECK(v.violations[0].action == Action::kWarn);
  CHECK(v.violations[0].container == "runtime");
  CHECK(v.violations[0].path.str() == "stages[1].RUN");
  CHECK(d.violation_pos[0] == SourcePos{4, 42});
  CHECK(v.violations[1].path.str() == "stages[1].USER");
  CHECK(d.violation_pos[1] == SourcePos{7, 6});
  CHECK(v.worst() == Action::kWarn);
}

TEST_CASE("actions and profiles apply to Dockerfiles as to pods") {
  CHECK(judge(policy("rules: {image-user: deny, image-build-tools: off}\n"), kBroken).verdict.worst() == Action::kDeny);
  CHECK(rules_of(judge(policy("rules: {image-user: deny, image-build-tools: off}\n"), kBroken).verdict.violations) ==
        std::vector<std::string>{"image-user"});
  // The Pod Security Standards profiles leave the contract rules off, the image rules included.
  CHECK(judge(policy("profile: pss-restricted\n"), kBroken).verdict.violations.empty());
  CHECK(rules_of(judge(policy("profile: pss-baseline\nrules: {image-user: warn}\n"), kBroken).verdict.violations) ==
        std::vector<std::string>{"image-user"});
  // Namespace overrides never match a Dockerfile, which has no namespace.
  CHECK(judge(policy("overrides:\n  - namespaces: ['*']\n    rules: {image-user: off}\n"), kBroken)
            .verdict.violations.size() == 2);
}

TEST_CASE("config exemptions: names match the path, containers the stage, images the base image") {
  auto exempted = [](const std::string& exemption, std::string_view path = "./docker/app.Dockerfile") {
    const DockerfileVerdict d =
        judge(policy("exemptions:\n  - rules: [image-user]\n    reason: legacy\n" + exemption), kBroken, path);
    return d.verdict.exempted.size();
  };
  CHECK(exempted("    names: ['docker/*']\n") == 1);
  CHECK(exempted("    names: ['*.Dockerfile']\n") == 1);
  CHECK(exempted("    names: ['other/*']\n") == 0);
  CHECK(exempted("    containers: [runtime]\n") == 1);
  CHECK(exempted("    containers: [build]\n") == 0);
  CHECK(exempted("    images: ['debian:*']\n") == 1);
  CHECK(exempted("    images: ['golang:*']\n") == 0);
  CHECK(exempted("    namespaces: ['*']\n") == 0);
  CHECK(exempted("    names: ['docker/*']\n    expires: 2000-01-01\n") == 0);

  const DockerfileVerdict d = judge(
      policy("exemptions:\n  - rules: [image-user]\n    names: ['*']\n    reason: \"base image, OPS-9\"\n"), kBroken);
  REQUIRE(d.verdict.exempted.size() == 1);
  const AppliedExemption& e = d.verdict.exempted[0];
  CHECK(e.rule == "image-user");
  CHECK(e.reason == "base image, OPS-9");
  CHECK(e.source == "config");
  CHECK(e.container == "runtime");
  CHECK(d.exemption_pos.at(0) == SourcePos{7, 6});
  CHECK(rules_of(d.verdict.violations) == std::vector<std::string>{"image-build-tools"});
}

TEST_CASE("inline exemptions: # podguard:ignore RULE[,RULE] reason=\"...\" above the instruction") {
  const DockerfileVerdict d = judge(policy(""),
                                    "FROM debian:12.5-slim AS runtime\n"
                                    "# podguard:ignore image-build-tools, image-secrets reason=\"debug image, OPS-7\"\n"
                                    "# (it needs a compiler)\n"
                                    "RUN apt-get install -y gcc\n"
                                    "# podguard:ignore image-user reason='numeric user comes from the platform'\n"
                                    "USER app\n"
                                    "HEALTHCHECK NONE\n");
  const ObjectVerdict& v = d.verdict;
  REQUIRE(v.exempted.size() == 2);
  CHECK(v.exempted[0].rule == "image-user");
  CHECK(v.exempted[0].reason == "numeric user comes from the platform");
  CHECK(v.exempted[0].source == "comment");
  CHECK(v.exempted[1].rule == "image-build-tools");
  CHECK(v.exempted[1].reason == "debug image, OPS-7");
  CHECK(v.notes.empty());
  // The findings the comments do not name stay.
  CHECK(rules_of(v.violations) == std::vector<std::string>{"image-labels", "image-healthcheck"});
}

TEST_CASE("inline exemptions that cannot be used are ignored, with a note") {
  const std::string text =
      "FROM debian:12.5-slim\n"
      "# podguard:ignore image-user\n"
      "USER root\n"
      "# podguard:ignore image-build-tools reason=\"\"\n"
      "RUN apt-get install -y gcc\n"
      "# podguard:ignore no-such-rule,image-healthcheck reason=x\n"
      "# podguard:ingore image-labels reason=x\n"
      "HEALTHCHECK NONE\n"
      "\n"
      "# podguard:ignore image-labels reason=\"a comment above no instruction covers nothing\"\n";
  const DockerfileVerdict d = judge(policy(""), text);
  const auto& notes = d.verdict.notes;
  REQUIRE(notes.size() == 4);
  CHECK(notes[0].find("line 2: # podguard:ignore is ignored: add a non-empty reason") == 0);
  CHECK(notes[1].find("line 4: ") == 0);
  CHECK(notes[2].find("names unknown rule \"no-such-rule\"") != std::string::npos);
  CHECK(notes[3].find("\"# podguard:ingore\" is not a podguard comment") != std::string::npos);
  CHECK(rules_of(d.verdict.violations) ==
        std::vector<std::string>{"image-labels", "image-user", "image-build-tools"});
  REQUIRE(d.verdict.exempted.size() == 1);  // image-healthcheck, by the comment naming one unknown rule too
  CHECK(d.verdict.exempted[0].rule == "image-healthcheck");

  SUBCASE("allowAnnotationExemptions: false turns inline exemptions off too") {
    const DockerfileVerdict off = judge(policy("allowAnnotationExemptions: false\n"),
                                        "FROM debian:12.5-slim\n# podguard:ignore image-user reason=x\nUSER root\n");
    CHECK(off.verdict.exempted.empty());
    REQUIRE(off.verdict.notes.size() == 1);
    CHECK(off.verdict.notes[0].find("allowAnnotationExemptions: false") != std::string::npos);
  }
}

TEST_CASE("ARGs before the first FROM belong to no stage") {
  const DockerfileVerdict d = judge(policy("exemptions:\n  - containers: ['*']\n    reason: x\n"),
                                    "ARG API_TOKEN=abcdef123456\nFROM scratch\nUSER 1001\n");
  REQUIRE_FALSE(d.verdict.violations.empty());
  const Violation& secret = d.verdict.violations.front();
  CHECK(secret.rule == "image-secrets");
  CHECK_FALSE(secret.container.has_value());  // so a stage-scoped exemption does not cover it
  CHECK(secret.path.str() == "ARG");
  CHECK(secret.message.find("abcdef123456") == std::string::npos);
}

// Inputs built to make a careless parser or rule quadratic, made larger
// than the default limits allow so that one would take minutes. Each is
// linear work here: well under a second, asserted with a wide margin.
TEST_CASE("hostile Dockerfiles cost time in proportion to their size") {
  DockerfileLimits big;
  big.max_bytes = 16u << 20;
  big.max_instruction_bytes = 4u << 20;
  big.max_heredoc_bytes = 8u << 20;
  const Policy p = policy("");
  auto judged = [&](const std::string& text) {
    const auto start = std::chrono::steady_clock::now();
    Result<Dockerfile> parsed = parse_dockerfile(text, big);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
    const DockerfileFacts facts(std::move(parsed).value());
    DockerfileVerdict v = evaluate_dockerfile(p, facts, "Dockerfile", {});
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    return v;
  };
  SUBCASE("one line of 200,000 labels: each position is found without rescanning the line") {
    std::string text = "FROM alpine:3.19\nUSER 1001\nLABEL";
    for (int i = 0; i < 200000; ++i) text += " k" + std::to_string(i) + "=v";
    const DockerfileVerdict v = judged(text + "\n");
    REQUIRE_FALSE(v.violation_pos.empty());
  }
  SUBCASE("a heredoc installing and then removing 100,000 -dev packages") {
    std::string names;
    for (int i = 0; i < 100000; ++i) names += " lib" + std::to_string(i) + "-dev";
    const DockerfileVerdict v =
        judged("FROM debian:12\nRUN <<EOF\napt-get install -y" + names + "\napt-get purge -y" + names + "\nEOF\n");
    for (const Violation& x : v.verdict.violations) CHECK(x.rule != "image-build-tools");
  }
  SUBCASE("100,000 build tools in one RUN are named ten at a time") {
    std::string names;
    for (int i = 0; i < 100000; ++i) names += " lib" + std::to_string(i) + "-dev";
    const DockerfileVerdict v = judged("FROM debian:12\nRUN apt-get install -y" + names + "\n");
    bool found = false;
    for (const Violation& x : v.verdict.violations) {
      if (x.rule != "image-build-tools") continue;
      found = true;
      CHECK(x.message.find("and 99990 more") != std::string::npos);
    }
    CHECK(found);
  }
  SUBCASE("a chain of 3,000 stages, then variables read through all of it") {
    std::string text = "FROM alpine:3.19 AS s0\nENV BASE=1\n";
    for (int i = 1; i < 3000; ++i) text += "FROM s" + std::to_string(i - 1) + " AS s" + std::to_string(i) + "\n";
    for (int line = 0; line < 200; ++line) {
      text += "LABEL x" + std::to_string(line) + "=\"";
      for (int i = 0; i < 1000; ++i) text += "${UNSET}";
      text += "\"\n";
    }
    const DockerfileVerdict v = judged(text + "USER $BASE\n");
    CHECK(v.verdict.checked);
  }
  SUBCASE("50,000 inline exemptions above 50,000 secrets") {
    std::string text = "FROM alpine:3.19\n";
    for (int i = 0; i < 50000; ++i) text += "# podguard:ignore image-user reason=\"r" + std::to_string(i) + "\"\n";
    text += "ENV";
    for (int i = 0; i < 50000; ++i) text += " P" + std::to_string(i) + "_PASSWORD=x";
    const DockerfileVerdict v = judged(text + "\n");
    std::size_t secrets = 0;
    for (const Violation& x : v.verdict.violations) secrets += x.rule == "image-secrets" ? 1 : 0;
    CHECK(secrets == 50000);
  }
}

}  // namespace podguard

#include <doctest/doctest.h>

#include <string>

#include "engine/policy/config.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"

namespace podguard {
namespace {

const std::string kHeader = "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\n";

std::size_t rule(std::string_view id) { return builtin_rules().index_of(id).value(); }

// The one error of a config expected to have exactly one.
Status only_error(const std::string& text) {
  const ConfigLoad load = load_config(text, builtin_rules());
  REQUIRE_FALSE(load.policy);
  REQUIRE_MESSAGE(load.errors.size() == 1, format_config_errors("config.yaml", load.errors));
  return load.errors.front();
}

}  // namespace

TEST_CASE("the example config of DESIGN.md loads") {
  const ConfigLoad load = load_config(kHeader + R"(profile: contract            # contract | pss-baseline | pss-restricted
rules:                       # per-rule action and parameters
  termination-grace-period: {action: deny, minSeconds: 30}
  image-pinned: {action: deny, requireDigest: false, disallowedTags: [latest]}
  resources-required: {action: off}
overrides:                   # actions per namespace glob
  - namespaces: ["dev-*"]
    rules: {probes-required: {action: warn}}
exemptions:                  # skip rules for matching objects or containers
  - rules: [probes-required] # omitted: all rules
    namespaces: [batch]
    names: ["legacy-*"]      # workload name glob
    containers: [istio-proxy]
    images: ["registry.k8s.io/pause:*"]
    reason: "legacy batch images, removal tracked in OPS-42"
    expires: 2027-03-31      # after this date the exemption stops applying
allowAnnotationExemptions: true
)", builtin_rules());
  REQUIRE_MESSAGE(load.policy, format_config_errors("example", load.errors));
  const Policy& p = *load.policy;
  CHECK(p.profile == Profile::kContract);
  CHECK(p.rules[rule("resources-required")].action == Action::kOff);  // `off` is YAML 1.1 false
  CHECK(p.rules[rule("run-as-non-root")].action == Action::kDeny);
  CHECK(p.rules[rule("image-pinned")].params["disallowedTags"] == Json::array({"latest"}));
  CHECK(p.rules[rule("image-pinned")].params["allowedRegistries"] == Json::array());  // default kept
  REQUIRE(p.overrides.size() == 1);
  CHECK(p.settings_for("dev-team")[rule("probes-required")].action == Action::kWarn);
  CHECK(p.settings_for("prod")[rule("probes-required")].action == Action::kDeny);
  REQUIRE(p.exemptions.size() == 1);
  CHECK(p.exemptions[0].expires == parse_day("2027-03-31"));
  CHECK(p.exemptions[0].rules == std::vector<std::size_t>{rule("probes-required")});
  CHECK(p.allow_annotation_exemptions);
}

TEST_CASE("profiles set default actions") {
  const ConfigLoad restricted = load_config(kHeader + "profile: pss-restricted\n", builtin_rules());
  REQUIRE(restricted.policy);
  const Policy& p = *restricted.policy;
  CHECK(p.rules[rule("pss.runAsNonRoot")].action == Action::kDeny);
  CHECK(p.rules[rule("pss.privileged")].action == Action::kDeny);
  CHECK(p.rules[rule("pss.hostPathVolumes")].action == Action::kOff);  // replaced by restrictedVolumes
  CHECK(p.rules[rule("run-as-non-root")].action == Action::kOff);
  const ConfigLoad mixed = load_config(kHeader + "profile: pss-baseline\nrules: {image-pinned: deny}\n", builtin_rules());
  REQUIRE(mixed.policy);
  CHECK(mixed.policy->rules[rule("image-pinned")].action == Action::kDeny);
  CHECK(mixed.policy->rules[rule("pss.runAsNonRoot")].action == Action::kOff);
}

TEST_CASE("errors name the line, the column and the key") {
  SUBCASE("unknown top-level key, with a suggestion") {
    const Status e = only_error(kHeader + "profile: contract\nexemption: []\n");
    CHECK(e.pos().line == 4);
    CHECK(e.pos().column == 1);
    CHECK(e.key() == "exemption");
    CHECK(e.message().find("did you mean \"exemptions\"") != std::string::npos);
  }
  SUBCASE("unknown rule") {
    const Status e = only_error(kHeader + "rules:\n  image-pined: {action: deny}\n");
    CHECK(e.pos().line == 4);
    CHECK(e.key() == "rules.image-pined");
    CHECK(e.message().find("did you mean \"image-pinned\"") != std::string::npos);
  }
  SUBCASE("unknown parameter") {
    const Status e = only_error(kHeader + "rules:\n  image-pinned:\n    requireDigests: true\n");
    CHECK(e.pos().line == 5);
    CHECK(e.key() == "rules.image-pinned.requireDigests");
    CHECK(e.message().find("requireDigest") != std::string::npos);
  }
  SUBCASE("wrong type") {
    const Status e = only_error(kHeader + "rules:\n  image-pinned: {requireDigest: sometimes}\n");
    CHECK(e.key() == "rules.image-pinned.requireDigest");
    CHECK(e.message().find("\"sometimes\"") != std::string::npos);
  }
  SUBCASE("integer out of range") {
    const Status e = only_error(kHeader + "rules:\n  termination-grace-period: {minSeconds: -5}\n");
    CHECK(e.key() == "rules.termination-grace-period.minSeconds");
  }
  SUBCASE("bad action") {
    const Status e = only_error(kHeader + "rules:\n  probes-required: {action: block}\n");
    CHECK(e.key() == "rules.probes-required.action");
    CHECK(e.message().find("deny, warn, audit, off") != std::string::npos);
  }
  SUBCASE("bad glob") {
    const Status e = only_error(kHeader + "overrides:\n  - namespaces: [\"dev-[\"]\n    rules: {}\n");
    CHECK(e.key() == "overrides[0].namespaces[0]");
    CHECK(e.pos().line == 4);
  }
  SUBCASE("bad profile") {
    const Status e = only_error(kHeader + "profile: strict\n");
    CHECK(e.key() == "profile");
  }
  SUBCASE("bad date") {
    const Status e =
        only_error(kHeader + "exemptions:\n  - namespaces: [a]\n    reason: r\n    expires: 2027-02-30\n");
    CHECK(e.key() == "exemptions[0].expires");
    CHECK(e.pos().line == 6);
  }
  SUBCASE("an exemption without a reason") {
    const Status e = only_error(kHeader + "exemptions:\n  - namespaces: [a]\n");
    CHECK(e.key() == "exemptions[0]");
    CHECK(e.message().find("reason") != std::string::npos);
  }
  SUBCASE("an exemption that selects nothing") {
    const Status e = only_error(kHeader + "exemptions:\n  - rules: [probes-required]\n    reason: r\n");
    CHECK(e.message().find("at least one of") != std::string::npos);
  }
  SUBCASE("wrong apiVersion") {
    const Status e = only_error("apiVersion: v1\nkind: PolicyConfig\n");
    CHECK(e.key() == "apiVersion");
    CHECK(e.pos().line == 1);
  }
  SUBCASE("syntax error") {
    const Status e = only_error(kHeader + "rules: {a: [}\n");
    CHECK(e.pos().line == 3);
  }
}

TEST_CASE("every error is reported, in file order") {
  const ConfigLoad load = load_config(kHeader +
                                      "profile: nope\n"
                                      "rules:\n"
                                      "  run-as-non-root: {minUid: 0}\n"
                                      "allowAnnotationExemptions: maybe\n",
                                      builtin_rules());
  REQUIRE_FALSE(load.policy);
  REQUIRE(load.errors.size() == 3);
  CHECK(load.errors[0].pos().line == 3);
  CHECK(load.errors[1].pos().line == 5);
  CHECK(load.errors[2].pos().line == 6);
  const std::string text = format_config_errors("policy.yaml", load.errors);
  CHECK(text.find("policy.yaml:3:1: profile: ") == 0);
}

TEST_CASE("empty and multi-document configs are errors") {
  CHECK(load_config("", builtin_rules()).errors.size() == 1);
  CHECK(load_config("# nothing\n", builtin_rules()).errors.size() == 1);
  CHECK(load_config(kHeader + "---\n" + kHeader, builtin_rules()).errors.size() == 1);
  CHECK(load_config("[1, 2]", builtin_rules()).errors.size() == 1);
}

TEST_CASE("dates") {
  CHECK(parse_day("1970-01-01") == 0);
  CHECK(parse_day("2024-02-29").has_value());
  CHECK_FALSE(parse_day("2023-02-29"));
  CHECK_FALSE(parse_day("2027-3-31"));
  CHECK(format_day(*parse_day("2027-03-31")) == "2027-03-31");
}

}  // namespace podguard

namespace podguard {

TEST_CASE("the example policy in examples/ is valid") {
  const ConfigLoad load = load_config(testing::read_text(std::filesystem::path(PODGUARD_SOURCE_DIR) / "examples" / "policy.yaml"), builtin_rules());
  CHECK_MESSAGE(load.policy, format_config_errors("examples/policy.yaml", load.errors));
}

}  // namespace podguard

namespace podguard {

TEST_CASE("the images block of DESIGN.md loads, and is off by default") {
  const ConfigLoad defaults = load_config(kHeader + "profile: contract\n", builtin_rules());
  REQUIRE(defaults.policy);
  const ImageSettings& d = defaults.policy->images;
  CHECK_FALSE(d.lookup);
  CHECK(d.timeout_seconds == 2);
  CHECK(d.on_error == ImageSettings::OnError::kWarn);
  CHECK(d.platforms == std::vector<std::string>{"linux/amd64"});
  CHECK(d.tag_ttl_seconds == 300);
  CHECK(d.error_ttl_seconds == 30);
  CHECK(d.max_entries == 10000);

  const ConfigLoad load = load_config(kHeader + R"(profile: contract
images:
  lookup: true                # default false (it needs network access)
  timeoutSeconds: 1.5         # budget for all lookups of one review
  onError: deny               # allow | warn | deny when a registry fails
  platforms: [linux/amd64, linux/arm64/v8]
  credentials: /etc/podguard/registry/config.json  # docker config.json
  caFile: /etc/podguard/registry/ca.crt            # extra CAs for registries
  insecureRegistries: [localhost:5000]
  mirrors: {docker.io: mirror.example.com}
  cache: {tagTtlSeconds: 0, errorTtlSeconds: 5, maxEntries: 100}
)",
                                      builtin_rules());
  REQUIRE_MESSAGE(load.policy, format_config_errors("config.yaml", load.errors));
  const ImageSettings& s = load.policy->images;
  CHECK(s.lookup);
  CHECK(s.timeout_seconds == 1.5);
  CHECK(s.on_error == ImageSettings::OnError::kDeny);
  CHECK(s.platforms == std::vector<std::string>{"linux/amd64", "linux/arm64/v8"});
  CHECK(s.credentials == "/etc/podguard/registry/config.json");
  CHECK(s.ca_file == "/etc/podguard/registry/ca.crt");
  CHECK(s.insecure_registries == std::vector<std::string>{"localhost:5000"});
  REQUIRE(s.mirrors.size() == 1);
  CHECK(s.mirrors[0] == std::pair<std::string, std::string>("docker.io", "mirror.example.com"));
  CHECK(s.tag_ttl_seconds == 0);
  CHECK(s.error_ttl_seconds == 5);
  CHECK(s.max_entries == 100);
}

TEST_CASE("the images block is validated strictly") {
  struct Case {
    const char* yaml;
    const char* key;
    const char* says;
  };
  const Case cases[] = {
      {"images: {lookpu: true}\n", "images.lookpu", "did you mean \"lookup\""},
      {"images: {lookup: maybe}\n", "images.lookup", "true or false"},
      {"images: {timeoutSeconds: 0}\n", "images.timeoutSeconds", "above 0"},
      {"images: {timeoutSeconds: 60}\n", "images.timeoutSeconds", "at most 30"},
      {"images: {timeoutSeconds: two}\n", "images.timeoutSeconds", "\"two\""},
      {"images: {onError: fail}\n", "images.onError", "allow, warn, deny"},
      {"images: {platforms: linux/amd64}\n", "images.platforms", "must be a list"},
      {"images: {platforms: [linux]}\n", "images.platforms[0]", "os/architecture"},
      {"images: {credentials: \"\"}\n", "images.credentials", "path of a file"},
      {"images: {caFile: [a]}\n", "images.caFile", "path of a file"},
      {"images: {insecureRegistries: [\"\"]}\n", "images.insecureRegistries[0]", "non-empty string"},
      {"images: {mirrors: [docker.io]}\n", "images.mirrors", "must be a map"},
      {"images: {mirrors: {docker.io: 5}}\n", "images.mirrors[docker.io]", "mirror"},
      {"images: {cache: {tagTTL: 5}}\n", "images.cache.tagTTL", "tagTtlSeconds"},
      {"images: {cache: {errorTtlSeconds: -1}}\n", "images.cache.errorTtlSeconds", "between 0 and"},
      {"images: {cache: {maxEntries: 0}}\n", "images.cache.maxEntries", "between 1 and"},
      {"images: [lookup]\n", "images", "must be a map"},
  };
  for (const Case& c : cases) {
    INFO(c.yaml);
    const Status e = only_error(kHeader + "profile: contract\n" + c.yaml);
    CHECK(e.key() == c.key);
    CHECK(e.pos().line == 4);
    CHECK(e.message().find(c.says) != std::string::npos);
  }
}

}  // namespace podguard

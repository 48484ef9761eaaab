// Fixture-driven tests of the rules that judge images:
// tests/fixtures/<rule-id>/{pass,fail}/*.image.json, beside the rule's
// manifest and Dockerfile fixtures.
//
// A fixture is an image's config blob (OCI image config JSON, as a registry
// serves it), judged as a single-platform image with only that rule
// switched on (at deny, with its default parameters). A fail file must
// produce at least one violation of the rule, a pass file none. Every rule
// with an image check needs at least two of each, or the test fails.
//
// A fixture may carry a "podguard-fixture" object beside the config's
// fields (registries ignore unknown fields, and so does the parser) that
// refines it:
//   "expect": [text...]     a fail file's messages must contain each
//   "never": [text...]      no message may contain any (a secret's value)
//   "params": {json}        parameters for the rule (merged over the defaults)
//   "offered": [platform]   the platforms the reference's index offers (the
//                           config serves as each one's image)
//   "platforms": [platform] the platforms judged (default: every one offered)
//   "notFound": "reason"    the registry says the reference does not exist
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/policy/evaluate_image.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"
#include "rule_fixture_loop.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kReference = "registry.example.com/team/app:1.0";

std::vector<fs::path> image_fixtures(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const fs::path& f : testing::files_in(dir, ".json")) {
    const std::string name = f.filename().string();
    if (name.size() > 11 && name.substr(name.size() - 11) == ".image.json") out.push_back(f);
  }
  return out;
}

std::vector<std::string> strings(const Json& fixture, const char* key) {
  std::vector<std::string> out;
  if (fixture.contains(key)) {
    for (const Json& s : fixture.at(key)) out.push_back(s.get<std::string>());
  }
  return out;
}

ImagePlatform platform(const std::string& text) {
  Result<ImagePlatform> p = parse_platform(text);
  REQUIRE_MESSAGE(p.ok(), text);
  return std::move(p).value();
}

void run_fixture(const std::string& rule_id, std::size_t rule, const fs::path& file, bool expect_fail) {
  INFO(file.string());
  const std::string text = testing::read_text(file);
  const Json whole = Json::parse(text, nullptr, false);
  REQUIRE_MESSAGE(whole.is_object(), "not a JSON object");
  const Json fixture = whole.contains("podguard-fixture") ? whole.at("podguard-fixture") : Json::object();
  const Json params = fixture.contains("params") ? fixture.at("params") : Json::object();
  const Policy policy = testing::only_rule(rule, params);

  ObjectVerdict verdict;
  if (fixture.contains("notFound")) {
    verdict = evaluate_missing_image(policy, kReference, fixture.at("notFound").get<std::string>(), {});
  } else {
    Result<ImageConfig> config = parse_image_config(text);
    REQUIRE_MESSAGE(config.ok(), config.status().to_string());
    const auto shared = std::make_shared<const ImageConfig>(std::move(config).value());
    ImageFacts facts;
    facts.registry = "registry.example.com";
    facts.name = "registry.example.com/team/app";
    facts.digest = "sha256:" + std::string(64, 'a');
    const std::vector<std::string> offered = strings(fixture, "offered");
    const std::vector<std::string> wanted = fixture.contains("platforms") ? strings(fixture, "platforms") : offered;
    if (offered.empty()) {
      facts.offered.push_back(ImagePlatform{shared->os, shared->architecture, shared->variant});
      facts.images.push_back(PlatformImage{facts.offered.front(), facts.digest, "sha256:" + std::string(64, 'c'), shared});
    } else {
      facts.multi_platform = true;
      for (const std::string& p : offered) facts.offered.push_back(platform(p));
      for (const std::string& p : wanted) {
        if (std::find(offered.begin(), offered.end(), p) == offered.end()) continue;
        facts.images.push_back(PlatformImage{platform(p), "sha256:" + std::string(64, 'b'),
                                             "sha256:" + std::string(64, 'c'), shared});
      }
    }
    verdict = evaluate_image(policy, kReference, facts, {});
  }
  CHECK(verdict.kind == "Image");
  CHECK(verdict.name == kReference);
  const std::vector<std::string> never = strings(fixture, "never");
  for (const Violation& v : verdict.violations) {
    INFO(v.message);
    CHECK(v.rule == rule_id);
    CHECK(!v.message.empty());
    for (const std::string& secret : never) CHECK(v.message.find(secret) == std::string::npos);
    if (!expect_fail) FAIL_CHECK("should pass " << rule_id << " but: " << v.path.str() << ": " << v.message);
  }
  if (!expect_fail) return;
  CHECK_MESSAGE(!verdict.violations.empty(), file.filename().string() << " should violate " << rule_id);
  for (const std::string& want : strings(fixture, "expect")) {
    bool found = false;
    for (const Violation& v : verdict.violations) found = found || v.message.find(want) != std::string::npos;
    CHECK_MESSAGE(found, "no " << rule_id << " message contains \"" << want << "\"");
  }
}

}  // namespace

TEST_CASE("every rule that judges images has pass and fail image fixtures, and they hold") {
  const std::size_t rules = testing::check_rule_fixtures(
      builtin_rules(), "image", [](const Rule& rule) { return rule.image_check != nullptr; },
      [](const fs::path& dir) { return image_fixtures(dir); }, run_fixture);
  CHECK(rules >= 7);  // image-user, -healthcheck, -secrets, -labels, -build-tools, -platform, -resolvable
}

TEST_CASE("image verdicts: actions, exemptions by reference and platform") {
  const RuleRegistry& registry = builtin_rules();
  Result<ImageConfig> config = parse_image_config(R"({"os":"linux","architecture":"amd64","config":{"User":"root"}})");
  REQUIRE(config.ok());
  ImageFacts facts;
  facts.name = "docker.io/library/app";
  facts.multi_platform = true;
  const auto shared = std::make_shared<const ImageConfig>(std::move(config).value());
  for (const char* p : {"linux/amd64", "linux/arm64"}) {
    facts.offered.push_back(*parse_platform(p));
    facts.images.push_back(PlatformImage{*parse_platform(p), "sha256:1", "sha256:2", shared});
  }
  const std::size_t user = *registry.index_of("image-user");
  Policy policy = testing::only_rule(user, Json::object());
  policy.rules[user].action = Action::kWarn;

  ObjectVerdict v = evaluate_image(policy, "app:1", facts, {});
  REQUIRE(v.violations.size() == 2);
  CHECK(v.violations[0].action == Action::kWarn);
  CHECK(v.violations[0].container == std::optional<std::string>("linux/amd64"));
  CHECK(v.violations[1].container == std::optional<std::string>("linux/arm64"));
  CHECK(v.violations[0].path.str() == "config.User");
  CHECK(v.display_name() == "Image app:1");

  Exemption by_platform;
  by_platform.rules = {user};
  by_platform.containers = {"linux/arm*"};
  by_platform.reason = "arm nodes run it with runAsUser";
  policy.exemptions.push_back(by_platform);
  v = evaluate_image(policy, "app:1", facts, {});
  REQUIRE(v.violations.size() == 1);
  REQUIRE(v.exempted.size() == 1);
  CHECK(v.exempted[0].container == std::optional<std::string>("linux/arm64"));
  CHECK(v.exempted[0].source == "config");

  Exemption by_namespace;
  by_namespace.namespaces = {"*"};
  by_namespace.reason = "namespaces never cover an image";
  Exemption by_image;
  by_image.images = {"app:*"};
  by_image.reason = "legacy";
  policy.exemptions = {by_namespace};
  CHECK(evaluate_image(policy, "app:1", facts, {}).violations.size() == 2);
  policy.exemptions = {by_image};
  v = evaluate_image(policy, "app:1", facts, {});
  CHECK(v.violations.empty());
  CHECK(v.exempted.size() == 2);
  CHECK(evaluate_image(policy, "other:1", facts, {}).violations.size() == 2);

  // A missing image: only image-resolvable finds anything.
  const Policy defaults = Policy::defaults(registry);
  v = evaluate_missing_image(defaults, "app:nope", "MANIFEST_UNKNOWN", {});
  REQUIRE(v.violations.size() == 1);
  CHECK(v.violations[0].rule == "image-resolvable");
  CHECK(v.violations[0].action == Action::kDeny);
  CHECK(!v.violations[0].container);
}

}  // namespace podguard

#include <doctest/doctest.h>

#include <set>
#include <stdexcept>

#include "engine/policy/registry.h"
#include "engine/rules/builtin.h"

namespace podguard {
namespace {

void noop(const PodView&, const RuleParams&, Findings&) {}

Rule make(std::string id) {
  Rule r;
  r.doc.id = std::move(id);
  r.doc.summary = "s";
  r.doc.description = "d";
  r.doc.rationale = "r";
  r.doc.remediation = "f";
  r.contract_action = Action::kWarn;
  r.check = noop;
  return r;
}

}  // namespace

TEST_CASE("the built-in registry holds every rule of DESIGN.md with its default action") {
  const RuleRegistry& reg = builtin_rules();
  const std::pair<const char*, Action> contract[] = {
      {"run-as-non-root", Action::kDeny},           {"run-as-non-root-group", Action::kWarn},
      {"no-privileged", Action::kDeny},             {"probes-required", Action::kDeny},
      {"termination-grace-period", Action::kDeny},  {"image-pinned", Action::kDeny},
      {"no-secret-literals", Action::kDeny},        {"read-only-root-filesystem", Action::kDeny},
      {"host-namespaces", Action::kDeny},           {"no-privilege-escalation", Action::kWarn},
      {"drop-all-capabilities", Action::kWarn},     {"seccomp-runtime-default", Action::kWarn},
      {"resources-required", Action::kWarn},        {"privileged-port", Action::kWarn},
      {"image-user", Action::kWarn},                {"image-healthcheck", Action::kWarn},
      {"image-secrets", Action::kDeny},             {"image-labels", Action::kAudit},
      {"image-build-tools", Action::kWarn},         {"dockerfile-exec-form", Action::kWarn},
      {"image-platform", Action::kDeny},            {"image-resolvable", Action::kDeny},
  };
  for (const auto& [id, action] : contract) {
    INFO(id);
    auto i = reg.index_of(id);
    REQUIRE(i);
    CHECK(reg.default_action(*i, Profile::kContract) == action);
    CHECK(reg.default_action(*i, Profile::kPssRestricted) == Action::kOff);
  }
  CHECK(judged_inputs(reg.at(*reg.index_of("image-pinned"))) == std::vector<std::string_view>{"pods", "Dockerfiles"});
  CHECK(judged_inputs(reg.at(*reg.index_of("image-user"))) ==
        std::vector<std::string_view>{"Dockerfiles", "images"});
  CHECK(judged_inputs(reg.at(*reg.index_of("image-platform"))) == std::vector<std::string_view>{"images"});
  std::size_t baseline = 0, restricted = 0;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    if (reg.default_action(i, Profile::kPssBaseline) == Action::kDeny) ++baseline;
    if (reg.default_action(i, Profile::kPssRestricted) == Action::kDeny) ++restricted;
  }
  // Pod Security Standards v1.37 has 12 baseline and 7 restricted checks;
  // 4 of the restricted ones replace a baseline check at that level.
  CHECK(baseline == 12);
  CHECK(restricted == 15);
  std::size_t pss = 0;
  for (const Rule* r : reg.rules()) pss += r->pss_level != PssLevel::kNone;
  CHECK(pss == 12 + 7);
}

TEST_CASE("the registry refuses duplicates, bad ids and missing docs") {
  const Rule a = make("alpha");
  const Rule a2 = make("alpha");
  CHECK_THROWS_AS(RuleRegistry({&a, &a2}), std::invalid_argument);
  Rule upper = make("Alpha");
  CHECK_THROWS_AS(RuleRegistry({&upper}), std::invalid_argument);
  Rule undocumented = make("beta");
  undocumented.doc.rationale.clear();
  CHECK_THROWS_AS(RuleRegistry({&undocumented}), std::invalid_argument);
  Rule unchecked = make("gamma");
  unchecked.check = nullptr;
  CHECK_THROWS_AS(RuleRegistry({&unchecked}), std::invalid_argument);
  Rule dockerfile_only = make("epsilon");
  dockerfile_only.check = nullptr;
  dockerfile_only.dockerfile_check = [](const DockerfileFacts&, const RuleParams&, DockerfileFindings&) {};
  CHECK_NOTHROW(RuleRegistry({&dockerfile_only}));
  CHECK(judged_inputs(dockerfile_only) == std::vector<std::string_view>{"Dockerfiles"});
  CHECK(judged_inputs(a) == std::vector<std::string_view>{"pods"});
  Rule param = make("delta");
  param.doc.params.push_back(ParamSpec{.name = "action", .description = "clashes with the action key"});
  CHECK_THROWS_AS(RuleRegistry({&param}), std::invalid_argument);
  CHECK_NOTHROW(RuleRegistry({&a}));
}

TEST_CASE("actions and profiles round-trip through their names") {
  for (Action a : {Action::kOff, Action::kAudit, Action::kWarn, Action::kDeny}) {
    CHECK(parse_action(to_string(a)) == a);
  }
  for (Profile p : {Profile::kContract, Profile::kPssBaseline, Profile::kPssRestricted}) {
    CHECK(parse_profile(to_string(p)) == p);
  }
  CHECK_FALSE(parse_action("block"));
  CHECK(Action::kDeny > Action::kWarn);
  CHECK(Action::kWarn > Action::kAudit);
}

}  // namespace podguard

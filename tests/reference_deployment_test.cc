#include <doctest/doctest.h>

#include "engine/policy/evaluate.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"

namespace podguard {

TEST_CASE("the reference Deployment meets the contract with zero findings, not even warnings") {
  const auto path = std::filesystem::path(PODGUARD_SOURCE_DIR) / "examples" / "reference-deployment.yaml";
  const auto docs = testing::read_manifest(path);
  REQUIRE(docs.size() == 1);
  Policy every_rule_at_deny = Policy::defaults(builtin_rules());
  for (auto& s : every_rule_at_deny.rules) {
    if (s.action != Action::kOff) s.action = Action::kDeny;
  }
  const Policy defaults = Policy::defaults(builtin_rules());
  for (const Policy* policy : std::initializer_list<const Policy*>{&defaults, &every_rule_at_deny}) {
    const auto verdicts = evaluate_document(*policy, docs[0].value, {});
    REQUIRE(verdicts.size() == 1);
    CHECK(verdicts[0].checked);
    for (const Violation& v : verdicts[0].violations) {
      FAIL_CHECK(v.rule << " " << v.path.str() << ": " << v.message);
    }
    CHECK(verdicts[0].notes.empty());
  }
}

TEST_CASE("the reference Deployment also passes the restricted Pod Security Standard") {
  const auto docs = testing::read_manifest(std::filesystem::path(PODGUARD_SOURCE_DIR) / "examples" /
                                           "reference-deployment.yaml");
  for (const ObjectVerdict& v : evaluate_document(Policy::defaults(builtin_rules(), Profile::kPssRestricted), docs.at(0).value, {})) {
    for (const Violation& x : v.violations) FAIL_CHECK(x.rule << ": " << x.message);
  }
}

}  // namespace podguard

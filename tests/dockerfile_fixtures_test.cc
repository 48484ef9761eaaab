// Fixture-driven tests of the rules that judge Dockerfiles:
// tests/fixtures/<rule-id>/{pass,fail}/*.Dockerfile, beside the rule's
// manifest fixtures when it judges pods too.
//
// Each file is parsed and judged with only that rule switched on (at deny,
// with its default parameters). A fail file must produce at least one
// violation of the rule, a pass file none. Every rule with a Dockerfile
// check needs at least two of each, or the test fails.
//
// A fixture may start with comment lines that refine it (plain comments to
// Docker):
//   # expect: <text>   a fail file's messages must contain it
//   # line: <n>        a fail file must report a violation on line n
//   # never: <text>    no message may contain it (a secret's value)
//   # params: {json}   parameters for the rule (merged over the defaults)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/facts/dockerfile_facts.h"
#include "engine/policy/evaluate_dockerfile.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"
#include "rule_fixture_loop.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;

struct Directives {
  std::vector<std::string> expect;
  std::vector<std::string> never;
  std::vector<int> lines;
  Json params = Json::object();
};

Directives read_directives(const std::string& text, const fs::path& file) {
  Directives d;
  d.expect = testing::header_values(text, "expect");
  d.never = testing::header_values(text, "never");
  for (const std::string& line : testing::header_values(text, "line")) d.lines.push_back(std::stoi(line));
  d.params = testing::header_params(text, file);
  return d;
}

void run_fixture(const std::string& rule_id, std::size_t rule, const fs::path& file, bool expect_fail) {
  INFO(file.string());
  const std::string text = testing::read_text(file);
  const Directives d = read_directives(text, file);
  Result<Dockerfile> parsed = parse_dockerfile(text);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
  const DockerfileFacts facts(std::move(parsed).value());
  const DockerfileVerdict verdict = evaluate_dockerfile(testing::only_rule(rule, d.params), facts, file.string(), {});
  const auto& violations = verdict.verdict.violations;
  CHECK(verdict.verdict.notes.empty());
  for (std::size_t i = 0; i < violations.size(); ++i) {
    INFO(violations[i].message);
    CHECK(violations[i].rule == rule_id);
    CHECK(!violations[i].message.empty());
    CHECK(verdict.violation_pos[i].known());
    for (const std::string& secret : d.never) CHECK(violations[i].message.find(secret) == std::string::npos);
    if (!expect_fail) FAIL_CHECK("should pass " << rule_id << " but line " << verdict.violation_pos[i].line);
  }
  if (!expect_fail) return;
  CHECK_MESSAGE(!violations.empty(), file.filename().string() << " should violate " << rule_id);
  for (const std::string& want : d.expect) {
    bool found = false;
    for (const Violation& v : violations) found = found || v.message.find(want) != std::string::npos;
    CHECK_MESSAGE(found, "no " << rule_id << " message contains \"" << want << "\"");
  }
  for (int line : d.lines) {
    bool found = false;
    for (const SourcePos& p : verdict.violation_pos) found = found || p.line == line;
    CHECK_MESSAGE(found, "no " << rule_id << " violation on line " << line);
  }
}

}  // namespace

TEST_CASE("every rule that judges Dockerfiles has pass and fail Dockerfile fixtures, and they hold") {
  const std::size_t rules = testing::check_rule_fixtures(
      builtin_rules(), "Dockerfile", [](const Rule& rule) { return rule.dockerfile_check != nullptr; },
      [](const fs::path& dir) { return testing::files_in(dir, ".Dockerfile"); }, run_fixture);
  CHECK(rules >= 7);  // image-user, -healthcheck, -secrets, -labels, -build-tools, dockerfile-exec-form, image-pinned
}

}  // namespace podguard

// Fixture-driven rule tests: tests/fixtures/<rule-id>/{pass,fail}/*.yaml.
//
// Each file is evaluated with only that rule switched on (at deny, with its
// default parameters). Every object in a fail file must produce at least one
// violation of the rule; no object in a pass file may produce one. Every
// registered rule that judges pods needs at least two of each, or the test
// fails. Rules that judge Dockerfiles have *.Dockerfile fixtures in the same
// folders, run by dockerfile_fixtures_test.cc.
//
// A fixture may start with comment lines that refine it:
//   # expect: <text>     a fail file's messages for the rule must contain it
//   # path: <field path>  a fail file must report a violation at this path
//   # params: {json}      parameters for the rule (merged over the defaults)
//   # namespace: <ns>     default namespace for objects that set none
//
// A fixture `x.yaml` with a sibling `x.images.json` is judged with image
// lookups on: that file says what each image reference answered (a config
// blob, platforms, notFound or failed; see tests/known_images.h). Rules
// that judge images but not pods (image-user, image-resolvable...) may have
// such fixtures too: their image checks then run on the pod's containers.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/policy/evaluate.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"
#include "known_images.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;

struct Directives {
  std::vector<std::string> expect;
  std::vector<std::string> paths;
  Json params = Json::object();
  std::string ns = "default";
};

Directives read_directives(const std::string& text, const fs::path& file) {
  Directives d;
  d.expect = testing::header_values(text, "expect");
  d.paths = testing::header_values(text, "path");
  for (const std::string& ns : testing::header_values(text, "namespace")) d.ns = ns;
  d.params = testing::header_params(text, file);
  return d;
}

struct Outcome {
  std::size_t objects = 0;
  std::vector<std::vector<const Violation*>> per_object;
  std::vector<ObjectVerdict> verdicts;
};

void run_fixture(const std::string& rule_id, std::size_t rule, const fs::path& file, bool expect_fail) {
  INFO(file.string());
  const std::string text = testing::read_text(file);
  const Directives d = read_directives(text, file);
  ReadResult read = read_documents(text);
  REQUIRE_MESSAGE(read.error.ok(), read.error.to_string());
  REQUIRE_MESSAGE(!read.documents.empty(), "fixture has no objects");
  EvalOptions options;
  options.default_namespace = d.ns;
  fs::path images_file = file;
  images_file.replace_extension(".images.json");
  KnownImages images;
  if (fs::exists(images_file)) {
    const Json doc = Json::parse(testing::read_text(images_file), nullptr, false);
    REQUIRE_MESSAGE(!doc.is_discarded(), images_file.string() << " is not JSON");
    images = testing::known_images_from_json(doc);
    options.images = &images;
  }
  const Policy policy = testing::only_rule(rule, d.params);

  std::vector<const Violation*> all;
  std::vector<ObjectVerdict> verdicts;
  for (const Document& doc : read.documents) {
    for (ObjectVerdict& v : evaluate_document(policy, doc.value, options)) verdicts.push_back(std::move(v));
  }
  for (const ObjectVerdict& v : verdicts) {
    CHECK_MESSAGE(v.checked, v.kind << " is not a workload kind; a fixture must hold pod specs");
    std::size_t mine = 0;
    for (const Violation& x : v.violations) {
      CHECK(x.rule == rule_id);  // only this rule is on
      CHECK(!x.message.empty());
      all.push_back(&x);
      ++mine;
    }
    if (expect_fail) {
      CHECK_MESSAGE(mine > 0, v.display_name() << " should violate " << rule_id);
    } else {
      for (const Violation& x : v.violations) {
        FAIL_CHECK(v.display_name() << " should pass " << rule_id << " but: " << x.path.str() << ": "
                                    << x.message);
      }
    }
  }
  for (const std::string& want : d.expect) {
    bool found = false;
    for (const Violation* x : all) found = found || x->message.find(want) != std::string::npos;
    CHECK_MESSAGE(found, "no " << rule_id << " message contains \"" << want << "\"");
  }
  for (const std::string& want : d.paths) {
    bool found = false;
    for (const Violation* x : all) found = found || x->path.str() == want;
    CHECK_MESSAGE(found, "no " << rule_id << " violation at " << want);
  }
}

}  // namespace

TEST_CASE("every rule has pass and fail fixtures, and they hold") {
  const RuleRegistry& registry = builtin_rules();
  const fs::path root = testing::test_fixtures_dir();
  for (std::size_t i = 0; i < registry.size(); ++i) {
    const std::string& id = registry.at(i).doc.id;
    const bool judges_pods = registry.at(i).check != nullptr;
    if (!judges_pods && registry.at(i).image_check == nullptr) continue;  // judges Dockerfiles only
    SUBCASE(id.c_str()) {
      for (bool fail : {false, true}) {
        const fs::path dir = root / id / (fail ? "fail" : "pass");
        auto files = testing::files_in(dir, ".yaml");
        // An image rule's pod fixtures are optional, and need image answers.
        if (judges_pods) CHECK_MESSAGE(files.size() >= 2, id << " needs at least two fixtures in " << dir.string());
        for (const auto& f : files) {
          fs::path images = f;
          images.replace_extension(".images.json");
          if (!judges_pods) CHECK_MESSAGE(fs::exists(images), f.string() << " needs " << images.filename().string());
          run_fixture(id, i, f, fail);
        }
      }
    }
  }
}

TEST_CASE("every fixture folder belongs to a registered rule") {
  const RuleRegistry& registry = builtin_rules();
  for (const auto& entry : fs::directory_iterator(testing::test_fixtures_dir())) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    if (name.front() == '_') continue;  // shared inputs for other tests (e.g. _cli)
    CHECK_MESSAGE(registry.index_of(name).has_value(), "fixtures for unknown rule " << name);
  }
}

}  // namespace podguard

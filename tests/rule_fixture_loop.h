// The loop the per-input fixture tests share (Dockerfiles, images): every
// built-in rule that judges the input has at least two pass and two fail
// fixtures in tests/fixtures/<rule>/{pass,fail}, each of which holds; a
// rule that does not judge it has none. One doctest SUBCASE per rule.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/policy/registry.h"
#include "fixture_files.h"

namespace podguard::testing {

// judges(rule): whether the rule judges this input. fixtures(dir): the
// fixture files in dir. run(rule id, rule index, file, fail): checks one.
// Returns how many rules judge the input.
template <typename Judges, typename Fixtures, typename Run>
std::size_t check_rule_fixtures(const RuleRegistry& registry, std::string_view input, Judges judges,
                                Fixtures fixtures, Run run) {
  const std::filesystem::path root = test_fixtures_dir();
  std::size_t rules = 0;
  for (std::size_t i = 0; i < registry.size(); ++i) {
    const Rule& rule = registry.at(i);
    const std::string& id = rule.doc.id;
    const bool judged = judges(rule);
    rules += judged ? 1 : 0;
    SUBCASE(id.c_str()) {
      for (bool fail : {false, true}) {
        const std::filesystem::path dir = root / id / (fail ? "fail" : "pass");
        const std::vector<std::filesystem::path> files = fixtures(dir);
        if (!judged) {
          CHECK_MESSAGE(files.empty(), id << " judges no " << input << " but has " << input << " fixtures in "
                                          << dir.string());
          continue;
        }
        CHECK_MESSAGE(files.size() >= 2, id << " needs at least two " << input << " fixtures in " << dir.string());
        for (const auto& f : files) run(id, i, f, fail);
      }
    }
  }
  return rules;
}

}  // namespace podguard::testing

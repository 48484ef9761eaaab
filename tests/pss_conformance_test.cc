// The pss-baseline and pss-restricted profiles against the upstream Pod
// Security Standards fixtures in ../shared/fixtures/pss (see its README):
// every `pass` pod allowed, every `fail` pod denied with the upstream reason
// in the message.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/policy/evaluate.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;

fs::path pss_fixtures_dir() { return testing::shared_fixtures_dir() / "pss"; }

struct Outcome {
  std::vector<std::string> deny_rules;  // rule id of each deny violation
  std::string deny_messages;            // their messages, one per line

  bool denied() const { return !deny_rules.empty(); }
  bool denied_by(std::string_view rule) const {
    for (const std::string& r : deny_rules) {
      if (r == rule) return true;
    }
    return false;
  }
};

Outcome evaluate_file(const fs::path& path, Profile profile) {
  const Policy policy = Policy::defaults(builtin_rules(), profile);
  Outcome out;
  for (const Document& doc : testing::read_manifest(path)) {
    for (const ObjectVerdict& verdict : evaluate_document(policy, doc.value, EvalOptions{})) {
      for (const Violation& v : verdict.violations) {
        if (v.action != Action::kDeny) continue;
        out.deny_rules.push_back(v.rule);
        out.deny_messages += v.rule + ": " + v.message + "\n";
      }
    }
  }
  return out;
}

Profile profile_for(std::string_view level) {
  return level == "restricted" ? Profile::kPssRestricted : Profile::kPssBaseline;
}

// The rule that reports a check at a profile: `pss.<check>`, or at
// pss-restricted the restricted rule that replaces it.
std::string reporting_rule(const std::string& check, Profile profile) {
  const std::string id = "pss." + check;
  if (profile != Profile::kPssRestricted) return id;
  for (const Rule* rule : builtin_rules().rules()) {
    if (rule->replaces == id) return rule->doc.id;
  }
  return id;
}

TEST_CASE("pss profiles agree with every upstream Pod Security Standards fixture") {
  const fs::path index_path = pss_fixtures_dir() / "index.json";
  if (!fs::exists(index_path)) {
    MESSAGE("skipping: " << index_path.string() << " not found");
    return;
  }
  const Json index = Json::parse(testing::read_text(index_path));
  std::size_t seen = 0;
  for (const Json& entry : index.at("fixtures")) {
    const std::string path = entry.at("path").get<std::string>();
    const std::string level = entry.at("level").get<std::string>();
    const std::string expect = entry.at("expect").get<std::string>();
    INFO("fixture: " << path << " (" << level << ", expect " << expect << ")");
    ++seen;
    const Profile profile = profile_for(level);
    Outcome outcome;
    REQUIRE_NOTHROW(outcome = evaluate_file(pss_fixtures_dir() / path, profile));
    INFO("deny violations:\n" << outcome.deny_messages);
    if (expect == "allow") {
      CHECK_FALSE(outcome.denied());
      continue;
    }
    REQUIRE(expect == "deny");
    CHECK(outcome.denied());
    const std::string substring = entry.at("expected_error_substring").get<std::string>();
    CHECK_MESSAGE(outcome.deny_messages.find(substring) != std::string::npos,
                  "expected \"" << substring << "\" in a deny message");
    // Stronger than upstream's substring: the check the fixture was made
    // for (or the restricted check replacing it) is among the deniers.
    if (entry.contains("check") && entry.at("check").is_string()) {
      const std::string rule = reporting_rule(entry.at("check").get<std::string>(), profile);
      CHECK_MESSAGE(outcome.denied_by(rule), "expected a deny from " << rule);
    }
  }
  CHECK(seen == 148);
}

TEST_CASE("pss profiles follow the fixture README's points to watch") {
  const fs::path root = pss_fixtures_dir();
  if (!fs::exists(root / "index.json")) {
    MESSAGE("skipping: " << root.string() << " not found");
    return;
  }

  SUBCASE("hostUsers: false relaxes procMount at baseline but not at restricted") {
    CHECK_FALSE(evaluate_file(root / "baseline/v1.37/pass/procmount1.yaml", Profile::kPssBaseline).denied());
    const fs::path restricted = root / "restricted/v1.37/fail/procmount_restricted0.yaml";
    const Outcome at_restricted = evaluate_file(restricted, Profile::kPssRestricted);
    CHECK(at_restricted.denied_by("pss.procMount_restricted"));
    CHECK_FALSE(at_restricted.denied_by("pss.procMount"));
    CHECK_FALSE(evaluate_file(restricted, Profile::kPssBaseline).denied());
  }

  SUBCASE("procMount: Unmasked with hostUsers: true is denied although the API would reject it first") {
    for (const char* level : {"baseline", "restricted"}) {
      for (const char* file : {"procmount0.yaml", "procmount1.yaml"}) {
        const fs::path path = root / level / "v1.37/fail" / file;
        INFO(path.string());
        const Outcome outcome = evaluate_file(path, profile_for(level));
        CHECK(outcome.deny_messages.find("procMount") != std::string::npos);
      }
    }
  }

  SUBCASE("a hostPath volume is denied at baseline too, and once at restricted") {
    const fs::path path = root / "restricted/v1.37/fail/restrictedvolumes19.yaml";
    const Outcome at_baseline = evaluate_file(path, Profile::kPssBaseline);
    CHECK(at_baseline.denied_by("pss.hostPathVolumes"));
    CHECK(at_baseline.deny_messages.find("hostPath") != std::string::npos);
    const Outcome at_restricted = evaluate_file(path, Profile::kPssRestricted);
    CHECK(at_restricted.denied_by("pss.restrictedVolumes"));
    CHECK_FALSE(at_restricted.denied_by("pss.hostPathVolumes"));
  }

  SUBCASE("every restricted pass pod is also allowed at baseline") {
    std::size_t seen = 0;
    for (const fs::path& path : testing::files_in(root / "restricted/v1.37/pass", ".yaml")) {
      INFO(path.string());
      ++seen;
      CHECK_FALSE(evaluate_file(path, Profile::kPssBaseline).denied());
    }
    CHECK(seen > 0);
  }
}

TEST_CASE("pss checks survive fully populated API objects with filler values") {
  const fs::path root = testing::shared_fixtures_dir() / "k8s-api";
  if (!fs::is_directory(root)) {
    MESSAGE("skipping: " << root.string() << " not found");
    return;
  }
  std::vector<fs::path> files = testing::files_in(root, ".yaml");
  for (const fs::path& p : testing::files_in(root, ".json")) files.push_back(p);
  for (const fs::path& path : files) {
    INFO(path.string());
    for (Profile profile : {Profile::kPssBaseline, Profile::kPssRestricted}) {
      Outcome outcome;
      CHECK_NOTHROW(outcome = evaluate_file(path, profile));
      // Every workload there sets privileged: true and hostNetwork: true.
      if (path.filename().string().find("AdmissionReview") == std::string::npos) {
        CHECK(outcome.denied_by("pss.privileged"));
        CHECK(outcome.denied_by("pss.hostNamespaces"));
      }
    }
  }
}

}  // namespace
}  // namespace podguard

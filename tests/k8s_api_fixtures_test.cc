// Robustness on fully populated API objects from k8s.io/api: every field is
// set, many with filler values that are not valid Kubernetes (enum strings,
// quantities). Nothing may throw or crash, every workload kind must be found,
// and the YAML and JSON copies of an object must give identical verdicts.
#include <doctest/doctest.h>

#include <set>

#include "engine/admission/admission.h"
#include "engine/policy/evaluate.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;

std::vector<ObjectVerdict> evaluate_all(const Policy& policy, const std::vector<Document>& docs) {
  std::vector<ObjectVerdict> out;
  for (const Document& d : docs) {
    for (ObjectVerdict& v : evaluate_document(policy, d.value, {})) out.push_back(std::move(v));
  }
  return out;
}

std::multiset<std::string> signature(const std::vector<ObjectVerdict>& verdicts) {
  std::multiset<std::string> out;
  for (const ObjectVerdict& v : verdicts) {
    for (const Violation& x : v.violations) out.insert(x.rule + " " + x.path.str() + " " + x.message);
  }
  return out;
}

// The shared k8s-api corpus, or an empty path (with a message) when absent.
fs::path k8s_api_dir() {
  const fs::path dir = testing::shared_fixtures_dir() / "k8s-api";
  if (fs::is_directory(dir)) return dir;
  MESSAGE("skipping: " << dir.string() << " not found (the shared upstream fixtures are absent)");
  return {};
}

// A policy with every rule denying.
Policy all_rules_denying() {
  Policy everything = Policy::defaults(builtin_rules());
  for (auto& s : everything.rules) s.action = Action::kDeny;
  return everything;
}

}  // namespace

TEST_CASE("fully populated Kubernetes API objects load and evaluate without error") {
  const fs::path dir = k8s_api_dir();
  if (dir.empty()) return;
  const Policy everything = all_rules_denying();
  const Policy policies[] = {Policy::defaults(builtin_rules()), Policy::defaults(builtin_rules(), Profile::kPssBaseline),
                             Policy::defaults(builtin_rules(), Profile::kPssRestricted), everything};
  const std::set<std::string> workloads = {"Pod",        "PodTemplate", "ReplicationController", "Deployment",
                                           "StatefulSet", "DaemonSet",  "ReplicaSet",            "Job",
                                           "CronJob"};
  std::set<std::string> kinds_seen;
  std::size_t files = 0;
  for (const std::string ext : {".yaml", ".json"}) {
    for (const fs::path& file : testing::files_in(dir, ext)) {
      INFO(file.string());
      ++files;
      std::vector<Document> docs;
      REQUIRE_NOTHROW(docs = testing::read_manifest(file));
      REQUIRE(docs.size() == 1);
      for (const Policy& policy : policies) {
        std::vector<ObjectVerdict> verdicts;
        REQUIRE_NOTHROW(verdicts = evaluate_all(policy, docs));
        REQUIRE(verdicts.size() == 1);
        const ObjectVerdict& v = verdicts[0];
        kinds_seen.insert(v.kind);
        CHECK(v.checked == (workloads.count(v.kind) == 1));
        // Every field has the type the API server gave it.
        for (const FieldTypeError& e : v.invalid) FAIL_CHECK(e.status.key() << ": " << e.status.message());
        for (const Violation& x : v.violations) {
          CHECK(!x.message.empty());
          CHECK(!x.path.empty());
        }
      }
      // Every container list is populated in these objects, so with every
      // rule at deny each of them must have been looked at.
      const auto verdicts = evaluate_all(everything, docs);
      if (verdicts[0].checked) {
        std::set<std::string> lists;
        for (const Violation& x : verdicts[0].violations) {
          for (const char* list : {"initContainers[", "containers[", "ephemeralContainers["}) {
            if (x.path.str().find(std::string(".") + list) != std::string::npos) lists.insert(list);
          }
        }
        CHECK(lists.size() == 3);
      }
    }
  }
  CHECK(files == 20);
  for (const auto& kind : workloads) CHECK_MESSAGE(kinds_seen.count(kind) == 1, kind << " not among the fixtures");
  CHECK(kinds_seen.count("AdmissionReview") == 1);
}

TEST_CASE("the YAML and JSON copies of each API object give the same verdicts") {
  const fs::path dir = testing::shared_fixtures_dir() / "k8s-api";
  if (!fs::is_directory(dir)) {
    MESSAGE("skipping: " << dir.string() << " not found");
    return;
  }
  const Policy everything = all_rules_denying();
  for (const fs::path& yaml : testing::files_in(dir, ".yaml")) {
    fs::path json = yaml;
    json.replace_extension(".json");
    INFO(yaml.string());
    const auto from_yaml = testing::read_manifest(yaml);
    const auto from_json = testing::read_manifest(json);
    // Key order differs between the two encodings; compare as unordered maps.
    const bool same = nlohmann::json::parse(from_yaml.at(0).value.dump()) ==
                      nlohmann::json::parse(from_json.at(0).value.dump());
    CHECK_MESSAGE(same, "the YAML and JSON copies decode to different values");
    CHECK(signature(evaluate_all(everything, from_yaml)) == signature(evaluate_all(everything, from_json)));
  }
}

TEST_CASE("the webhook's reading of a review, parts left out, judges fully populated objects as a whole read does") {
  // read_admission_review leaves out managedFields, request.userInfo and
  // .options, and the objects' status, and reads into a node arena; these
  // objects have all of those parts.
  const fs::path dir = k8s_api_dir();
  if (dir.empty()) return;
  const Policy everything = all_rules_denying();
  const Policy policies[] = {Policy::defaults(builtin_rules()), Policy::defaults(builtin_rules(), Profile::kPssRestricted), everything};
  std::size_t compared = 0;
  for (const fs::path& file : testing::files_in(dir, ".json")) {
    INFO(file.string());
    const std::vector<Document> docs = testing::read_manifest(file);
    REQUIRE(docs.size() == 1);
    const Json& object = docs[0].value;
    if (!object.is_object() || !object.contains("kind") || !object["kind"].is_string()) continue;
    Json old_object = object;
    old_object["metadata"]["labels"]["changed"] = "yes";
    for (const char* operation : {"CREATE", "UPDATE"}) {
      const Json review = {
          {"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "u"},
            {"kind", {{"group", ""}, {"version", "v1"}, {"kind", object["kind"]}}},
            {"requestKind", {{"group", ""}, {"version", "v1"}, {"kind", object["kind"]}}},
            {"namespace", "shop"},
            {"operation", operation},
            {"userInfo", {{"username", "admin"}, {"groups", {"system:masters"}}}},
            {"options", {{"kind", "CreateOptions"}}},
            {"object", object},
            {"oldObject", std::string(operation) == "UPDATE" ? old_object : Json(nullptr)}}}};
      for (const Policy& policy : policies) {
        const AdmissionResult whole = review_admission(policy, review, Day{20000});
        const AdmissionResult read = review_admission_text(policy, review.dump(), Day{20000});
        REQUIRE(whole.outcome);
        REQUIRE(read.outcome);
        CHECK(read.outcome->response.dump() == whole.outcome->response.dump());
        CHECK(read.outcome->violations.size() == whole.outcome->violations.size());
        ++compared;
      }
    }
  }
  CHECK(compared > 0);
}

}  // namespace podguard

// podguard reads manifests as kubectl sends them to the API server: the same
// numbers, the same keys, the same merge-key results. Each case is read by
// podguard and by real kubectl (v1.34, `kubectl label --local -o json`,
// which decodes the file the way `kubectl apply` does and needs no cluster),
// and the two objects must be equal. Skipped with a message when kubectl is
// not there (scripts/kube-tools.sh fetches it).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/reading/manifest_reader.h"
#include "kube_tools.h"
#include "subprocess.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;

struct Case {
  const char* name;
  const char* yaml;  // the body of a Pod after its apiVersion and kind
};

// The object kubectl would send, without the label used to make it print.
nlohmann::json kubectl_object(const std::string& kubectl, const std::string& yaml) {
  const fs::path file = fs::temp_directory_path() / ("podguard-kubectl-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(file) << yaml;
  const testing::ProcessResult r =
      testing::run_process({kubectl, "label", "--local", "-f", file.string(), "podguard-probe=1", "-o", "json"});
  fs::remove(file);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  nlohmann::json out = nlohmann::json::parse(r.out);
  out["metadata"]["labels"].erase("podguard-probe");
  if (out["metadata"]["labels"].empty()) out["metadata"].erase("labels");
  return out;
}

nlohmann::json podguard_object(const std::string& yaml) {
  const ReadResult r = read_documents(yaml, InputFormat::kYaml);
  REQUIRE_MESSAGE(r.error.ok(), r.error.to_string());
  REQUIRE(r.documents.size() == 1);
  return nlohmann::json::parse(std::string(r.documents[0].value.dump()));
}

const Case kCases[] = {
    {"integral floats are integers",
     "metadata: {name: web}\n"
     "spec:\n"
     "  terminationGracePeriodSeconds: 29.0\n"
     "  activeDeadlineSeconds: 1e+06\n"
     "  securityContext: {runAsUser: 0.0, runAsGroup: !!float 1000, fsGroup: 2.5e3}\n"
     "  containers: [{name: c, image: i, resources: {limits: {cpu: 2.0, memory: 1e3}, requests: {cpu: 0.5}}}]\n"},
    {"a merge overrides the keys before it, keys after it win",
     "metadata:\n"
     "  name: web\n"
     "  labels:\n"
     "    a: explicit-before\n"
     "    <<: {a: merged, b: merged, c: merged}\n"
     "    c: explicit-after\n"},
    {"in a list of merges the earlier map wins",
     "metadata:\n"
     "  name: web\n"
     "  annotations:\n"
     "    <<: [{x: first, z: first}, {x: second, w: second}]\n"},
    {"merges through anchors, nested and repeated",
     "metadata:\n"
     "  name: web\n"
     "  annotations: &base {team: a, tier: web}\n"
     "  labels:\n"
     "    <<: *base\n"
     "    tier: api\n"
     "spec:\n"
     "  containers:\n"
     "  - &c {name: a, image: \"i:1\", securityContext: {privileged: false}}\n"
     "  - <<: *c\n"
     "    name: b\n"},
    {"YAML 1.1 booleans and numbers as keys",
     "metadata:\n"
     "  name: web\n"
     "  annotations: {on: \"2\", n: \"3\", \"yes\": \"4\", 0x1F: \"5\", 010: \"6\", +7: \"7\"}\n"},
};

}  // namespace

TEST_CASE("podguard reads a manifest into the object kubectl sends") {
  const auto kubectl = testing::find_kubectl();
  if (!kubectl) {
    MESSAGE("skipping: no kubectl (scripts/kube-tools.sh installs v1.34 from npm)");
    return;
  }
  for (const Case& c : kCases) {
    CAPTURE(std::string(c.name));
    const std::string yaml = std::string("apiVersion: v1\nkind: Pod\n") + c.yaml;
    const nlohmann::json expected = kubectl_object(*kubectl, yaml);
    const nlohmann::json got = podguard_object(yaml);
    CHECK_MESSAGE(got == expected, "podguard: " << got.dump() << "\nkubectl:  " << expected.dump());
  }
}

}  // namespace podguard

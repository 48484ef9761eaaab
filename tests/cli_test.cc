// `podguard check` and `podguard rules` run as a user runs them: output
// formats, exit codes, inputs from files, directories and stdin.
#include <doctest/doctest.h>

#include <regex>
#include <sstream>

#include "engine/reading/document.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"
#include "subprocess.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

const std::string kBinary = PODGUARD_BINARY;

std::string fixture(const std::string& name) { return (testing::test_fixtures_dir() / "_cli" / name).string(); }

std::string reference() {
  return (fs::path(PODGUARD_SOURCE_DIR) / "examples" / "reference-deployment.yaml").string();
}

ProcessResult podguard(std::vector<std::string> args, const std::string& input = {}) {
  args.insert(args.begin(), kBinary);
  return testing::run_process(args, input);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("text output: one file:line:col line per violation, then a summary") {
  const ProcessResult r = podguard({"check", fixture("mixed.yaml")});
  CHECK(r.exit_code == 1);
  CHECK(r.err.empty());
  const auto out = lines(r.out);
  REQUIRE(out.size() > 3);
  const std::regex line_re(R"(^(.+):(\d+):(\d+): (deny|warn|audit)\[([a-z.A-Z_-]+)\] (\S+) (\S+)( container "[^"]+")?: .+$)");
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    INFO(out[i]);
    CHECK(std::regex_match(out[i], line_re));
  }
  const std::string file = fixture("mixed.yaml");
  // The offending field's key: runAsUser: 0 is on line 19, image on 17, hostNetwork on 14.
  CHECK(r.out.find(file + ":19:13: deny[run-as-non-root] Deployment shop/web container \"app\": runAsUser is 0") !=
        std::string::npos);
  CHECK(r.out.find(file + ":17:11: deny[image-pinned] Deployment shop/web container \"app\": image \"nginx:latest\"") !=
        std::string::npos);
  CHECK(r.out.find(file + ":14:7: deny[host-namespaces] Deployment shop/web: hostNetwork: true") != std::string::npos);
  // The Job is not asked for probes.
  CHECK(r.out.find("probes-required] Job") == std::string::npos);
  CHECK(out.back() == "podguard: 3 objects (2 checked, 1 skipped): 1 denied, 1 warned; 5 deny, 8 warn, 0 audit; "
                      "0 exemptions applied");
}

TEST_CASE("exit codes and --fail-on") {
  CHECK(podguard({"check", reference()}).exit_code == 0);
  CHECK(podguard({"check", fixture("mixed.yaml")}).exit_code == 1);
  CHECK(podguard({"check", fixture("warn-only.yaml")}).exit_code == 0);
  CHECK(podguard({"check", "--fail-on", "warn", fixture("warn-only.yaml")}).exit_code == 1);
  CHECK(podguard({"check", "--fail-on", "never", fixture("mixed.yaml")}).exit_code == 0);
  CHECK(podguard({"check", "--fail-on", "warn", reference()}).exit_code == 0);
  SUBCASE("usage errors are 2") {
    CHECK(podguard({"check"}).exit_code == 2);
    CHECK(podguard({"check", "-o", "yaml", reference()}).exit_code == 2);
    CHECK(podguard({"check", "--fail-on", "sometimes", reference()}).exit_code == 2);
    CHECK(podguard({"check", "--no-such-flag", reference()}).exit_code == 2);
    CHECK(podguard({"frobnicate"}).exit_code == 2);
    CHECK(podguard({}).exit_code == 2);
  }
}

TEST_CASE("unreadable and unparseable input is exit 2 with file and line, and the other inputs are still reported") {
  const ProcessResult r = podguard({"check", fixture("broken.yaml"), "does-not-exist.yaml", fixture("list.json")});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("does-not-exist.yaml: error: no such file or directory") != std::string::npos);
  CHECK(r.err.find(fixture("broken.yaml") + ":13:") != std::string::npos);
  // The document before the syntax error and the other file are reported.
  CHECK(r.out.find("Pod default/fine: hostPID: true") != std::string::npos);
  CHECK(r.out.find("Deployment prod/api") != std::string::npos);
  CHECK(r.out.find("2 input errors") != std::string::npos);
}

TEST_CASE("an invalid config is exit 2 with file, line, column and key") {
  const ProcessResult r = podguard({"check", "-c", fixture("invalid-config.yaml"), reference()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find(fixture("invalid-config.yaml") + ":5:32: rules.image-pinned.requireDigests: unknown key") !=
        std::string::npos);
  CHECK(r.out.empty());
  CHECK(podguard({"check", "-c", "missing-config.yaml", reference()}).exit_code == 2);
}

TEST_CASE("stdin, multi-document YAML, JSON Lists") {
  SUBCASE("YAML on stdin, as from helm template") {
    const ProcessResult r = podguard({"check", "-"}, testing::read_text(fixture("mixed.yaml")));
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("<stdin>:19:13: deny[run-as-non-root]") != std::string::npos);
  }
  SUBCASE("a JSON List on stdin, as from kubectl get -o json") {
    const ProcessResult r = podguard({"check", "-o", "json", "-"}, testing::read_text(fixture("list.json")));
    CHECK(r.exit_code == 1);
    const Json doc = Json::parse(r.out);
    CHECK(doc["summary"]["objects"] == 2);
    CHECK(doc["summary"]["skipped"] == 1);
    REQUIRE(doc["results"].size() == 1);
    CHECK(doc["results"][0]["file"] == "<stdin>");
    CHECK(doc["results"][0]["line"] == 5);
    bool found = false;
    for (const auto& v : doc["results"][0]["violations"]) {
      if (v["rule"] == "host-namespaces") {
        found = true;
        CHECK(v["path"] == "spec.template.spec.hostIPC");  // from the item's root, not the List's
        CHECK(v["line"] == 12);
        CHECK(v["column"] == 13);
      }
    }
    CHECK(found);
  }
}

TEST_CASE("directories are searched recursively for *.yaml, *.yml and *.json, skipping hidden folders") {
  const ProcessResult r = podguard({"check", "-o", "json", fixture("tree")});
  CHECK(r.exit_code == 1);
  const Json doc = Json::parse(r.out);
  std::vector<std::string> names;
  for (const auto& res : doc["results"]) names.push_back(res["name"]);
  CHECK(names == std::vector<std::string>{"a", "b", "c"});  // sorted paths; nested/.hidden and notes.txt skipped
}

TEST_CASE("JSON output has the stable shape") {
  const ProcessResult r = podguard({"check", "-o", "json", fixture("mixed.yaml"), reference()});
  CHECK(r.exit_code == 1);
  const Json doc = Json::parse(r.out);
  CHECK(doc["summary"] == Json{{"objects", 4}, {"checked", 3}, {"skipped", 1}, {"denied", 1}, {"warned", 1}});
  REQUIRE(doc["results"].size() == 3);
  for (const auto& res : doc["results"]) {
    for (const char* key : {"file", "line", "kind", "namespace", "name", "violations", "exempted"}) {
      CHECK_MESSAGE(res.contains(key), key);
    }
    for (const auto& v : res["violations"]) {
      for (const char* key : {"rule", "action", "container", "path", "line", "column", "message"}) {
        CHECK_MESSAGE(v.contains(key), key);
      }
      CHECK(v["line"].is_number_integer());
      CHECK((v["container"].is_string() || v["container"].is_null()));
    }
  }
  const Json& web = doc["results"][0];
  CHECK(web["kind"] == "Deployment");
  CHECK(web["namespace"] == "shop");
  CHECK(web["line"] == 2);
  bool pod_level_null = false;
  for (const auto& v : web["violations"]) {
    if (v["rule"] == "host-namespaces") pod_level_null = v["container"].is_null();
  }
  CHECK(pod_level_null);
  CHECK(doc["results"][2]["violations"].empty());  // the reference Deployment
  CHECK(doc["errors"].empty());
}

TEST_CASE("applied exemptions appear in every output") {
  const std::vector<std::string> base = {"check", "-c", fixture("exemptions-config.yaml"), fixture("mixed.yaml")};
  auto with = [&base](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.begin() + 1, extra.begin(), extra.end());
    return podguard(args);
  };
  const ProcessResult text = with({});
  CHECK(text.out.find("deny[host-namespaces]") == std::string::npos);
  CHECK(text.out.find("exempt[host-namespaces] Deployment shop/web: exempted by config: needs the node network") !=
        std::string::npos);
  CHECK(text.out.find("warn[resources-required]") == std::string::npos);  // turned off by the config
  const Json json = Json::parse(with({"-o", "json"}).out);
  CHECK(json["results"][0]["exempted"] ==
        Json::array({{{"rule", "host-namespaces"}, {"reason", "needs the node network until OPS-42 lands"}}}));
  const ProcessResult junit = with({"-o", "junit"});
  CHECK(junit.out.find("exempt[host-namespaces]") != std::string::npos);
  const Json sarif = Json::parse(with({"-o", "sarif"}).out);
  bool suppressed = false;
  for (const auto& res : sarif["runs"][0]["results"]) {
    if (res.contains("suppressions")) {
      suppressed = res["ruleId"] == "host-namespaces" &&
                   res["suppressions"][0]["justification"] == "needs the node network until OPS-42 lands";
    }
  }
  CHECK(suppressed);
}

TEST_CASE("JUnit XML: one test case per object, failures at or above --fail-on") {
  const ProcessResult r = podguard({"check", "-o", "junit", fixture("mixed.yaml"), fixture("broken.yaml")});
  CHECK(r.exit_code == 2);
  CHECK(r.out.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"podguard\" tests=\"5\" "
                    "failures=\"2\" errors=\"1\" skipped=\"1\">",
                    0) == 0);
  CHECK(count(r.out, "<testcase ") == 5);
  CHECK(count(r.out, "<testsuite ") == 2);
  CHECK(count(r.out, "<failure ") == 2);
  CHECK(count(r.out, "<skipped ") == 1);
  CHECK(count(r.out, "<error ") == 1);
  CHECK(r.out.find("name=\"Deployment shop/web\"") != std::string::npos);
  CHECK(count(r.out, "<testsuite ") == count(r.out, "</testsuite>"));
  CHECK(count(r.out, "<testcase ") == count(r.out, "</testcase>"));
  // Warn-level findings are listed, but fail only with --fail-on warn.
  const ProcessResult lenient = podguard({"check", "-o", "junit", fixture("warn-only.yaml")});
  CHECK(count(lenient.out, "<failure ") == 0);
  CHECK(lenient.out.find("<system-out>") != std::string::npos);
  const ProcessResult strict = podguard({"check", "-o", "junit", "--fail-on", "warn", fixture("warn-only.yaml")});
  CHECK(count(strict.out, "<failure ") == 1);
}

TEST_CASE("SARIF 2.1.0: one result per violation with its region") {
  const ProcessResult r = podguard({"check", "-o", "sarif", fixture("mixed.yaml"), fixture("broken.yaml")});
  CHECK(r.exit_code == 2);
  const Json doc = Json::parse(r.out);
  CHECK(doc["version"] == "2.1.0");
  CHECK(doc["$schema"].get<std::string>().find("sarif-2.1.0") != std::string::npos);
  const Json& run = doc["runs"][0];
  CHECK(run["tool"]["driver"]["name"] == "podguard");
  const Json& rules = run["tool"]["driver"]["rules"];
  CHECK(rules.size() == builtin_rules().size());
  const Json text_report = Json::parse(podguard({"check", "-o", "json", fixture("mixed.yaml")}).out);
  std::size_t violations = 0;
  for (const auto& res : text_report["results"]) violations += res["violations"].size();
  violations += 1;  // hostPID in the first document of broken.yaml
  CHECK(run["results"].size() == violations);
  for (const auto& res : run["results"]) {
    const std::size_t index = res["ruleIndex"];
    CHECK(rules[index]["id"] == res["ruleId"]);
    CHECK((res["level"] == "error" || res["level"] == "warning" || res["level"] == "note"));
    const Json& region = res["locations"][0]["physicalLocation"]["region"];
    CHECK(region["startLine"].get<int>() >= 1);
    CHECK(region["startColumn"].get<int>() >= 1);
  }
  CHECK(run["invocations"][0]["executionSuccessful"] == false);
  CHECK(run["invocations"][0]["toolExecutionNotifications"].size() == 1);
}

TEST_CASE("the committed rule reference is what `podguard rules --markdown` prints") {
  const ProcessResult r = podguard({"rules", "--markdown"});
  CHECK(r.exit_code == 0);
  const std::string committed = testing::read_text(fs::path(PODGUARD_SOURCE_DIR) / "docs" / "rules.md");
  CHECK_MESSAGE(r.out == committed, "docs/rules.md is stale: regenerate it with `podguard rules --markdown > docs/rules.md`");
  const ProcessResult text = podguard({"rules"});
  CHECK(text.exit_code == 0);
  CHECK(text.out.find("run-as-non-root (deny in contract)") != std::string::npos);
  CHECK(text.out.find("pss.runAsNonRoot (deny in pss-restricted)") != std::string::npos);
}

TEST_CASE("--namespace sets the namespace of objects that have none") {
  const ProcessResult r = podguard({"check", "-n", "payments", fixture("tree/a.yaml")});
  CHECK(r.out.find("Pod payments/a:") != std::string::npos);
}

}  // namespace podguard

namespace podguard {

TEST_CASE("an object with an items list that is not a List is one object, not its items") {
  const ProcessResult r = podguard(
      {"check", "-o", "json", "-"},
      R"({"apiVersion": "example.com/v1", "kind": "Inventory", "metadata": {"name": "x"},
          "items": [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostPID": true}}]})");
  CHECK(r.exit_code == 0);
  const Json doc = Json::parse(r.out);
  CHECK(doc["summary"]["objects"] == 1);
  CHECK(doc["summary"]["skipped"] == 1);
  CHECK(doc["results"].empty());
}

}  // namespace podguard

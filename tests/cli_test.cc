// `podguard check` and `podguard rules` run as a user runs them: output
// formats, exit codes, inputs from files, directories and stdin.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
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


// --- Dockerfiles ------------------------------------------------------------

namespace {

std::string dockerfiles(const std::string& name = "") {
  return (testing::test_fixtures_dir() / "_cli" / "dockerfiles" / name).string();
}

}  // namespace

TEST_CASE("directories are searched for Dockerfile, Containerfile, *.Dockerfile and Dockerfile.* too") {
  const ProcessResult r = podguard({"check", "-o", "json", dockerfiles()});
  CHECK(r.exit_code == 2);  // broken/Dockerfile does not parse; every other file is still judged
  const Json doc = Json::parse(r.out);
  std::vector<std::string> files;
  for (const auto& res : doc["results"]) files.push_back(res["file"]);
  CHECK(files == std::vector<std::string>{dockerfiles("Dockerfile"), dockerfiles("services/api/Containerfile"),
                                          dockerfiles("services/api/Dockerfile.dev"),
                                          dockerfiles("services/api/api.Dockerfile"),
                                          dockerfiles("services/api/deploy.yaml")});
  CHECK(doc["summary"]["objects"] == 5);
  REQUIRE(doc["errors"].size() == 1);
  CHECK(doc["errors"][0]["file"] == dockerfiles("broken/Dockerfile"));
  CHECK(doc["errors"][0]["line"] == 2);
  CHECK(doc["errors"][0]["column"] == 5);
  CHECK(r.err.find(dockerfiles("broken/Dockerfile") + ":2:5: error: CMD's arguments look like a JSON array") !=
        std::string::npos);
  // Named on the command line, a Dockerfile.* is read as a Dockerfile whatever its suffix.
  const ProcessResult named = podguard({"check", dockerfiles("services/api/Dockerfile.dev")});
  CHECK(named.exit_code == 1);
  CHECK(named.out.find("deny[image-secrets] Dockerfile stage \"0\": ENV DB_PASSWORD") != std::string::npos);
}

TEST_CASE("Dockerfile findings in text: file:line:col, the rule, the stage, and exemptions by comment") {
  const std::string file = dockerfiles("services/api/api.Dockerfile");
  const ProcessResult r = podguard({"check", file});
  CHECK(r.exit_code == 1);
  CHECK(r.err.empty());
  const auto out = lines(r.out);
  const std::vector<std::string> want = {
      file + ":1:1: audit[image-labels] Dockerfile stage \"0\": the final stage \"0\" lacks the labels",
      file + ":1:6: deny[image-pinned] Dockerfile stage \"0\": FROM image \"debian:latest\" uses the mutable tag",
      file + ":2:42: warn[image-build-tools] Dockerfile stage \"0\": RUN installs build tools (gcc) with apt-get",
      file + ":6:1: warn[dockerfile-exec-form] Dockerfile stage \"0\": CMD in shell form runs /bin/sh -c as PID 1",
      file + ":4:6: exempt[image-user] Dockerfile stage \"0\": exempted by comment: the chart sets runAsUser, OPS-12",
  };
  REQUIRE(out.size() == want.size() + 1);
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO(out[i]);
    CHECK(out[i].rfind(want[i], 0) == 0);
  }
  CHECK(r.out.find("write CMD [\"/app/server\", \"--port\", \"8080\"]") != std::string::npos);
  CHECK(out.back() == "podguard: 1 object (1 checked, 0 skipped): 1 denied, 0 warned; 1 deny, 2 warn, 1 audit; "
                      "1 exemption applied");
  CHECK(podguard({"check", "--fail-on", "never", file}).exit_code == 0);
}

TEST_CASE("Dockerfiles in JSON, JUnit and SARIF") {
  const std::string file = dockerfiles("services/api/api.Dockerfile");
  const Json json = Json::parse(podguard({"check", "-o", "json", file}).out);
  REQUIRE(json["results"].size() == 1);
  const Json& res = json["results"][0];
  CHECK(res["kind"] == "Dockerfile");
  CHECK(res["name"] == file);
  CHECK(res["namespace"] == "");
  CHECK(res["exempted"] == Json::array({{{"rule", "image-user"}, {"reason", "the chart sets runAsUser, OPS-12"}}}));
  const Json& tools = res["violations"][2];
  CHECK(tools["rule"] == "image-build-tools");
  CHECK(tools["container"] == "0");  // the stage
  CHECK(tools["path"] == "stages[0].RUN");
  CHECK(tools["line"] == 2);
  CHECK(tools["column"] == 42);

  const ProcessResult junit = podguard({"check", "-o", "junit", file});
  CHECK(count(junit.out, "<testcase ") == 1);
  CHECK(junit.out.find("name=\"Dockerfile " + file + "\"") != std::string::npos);
  CHECK(junit.out.find(":1:6: deny[image-pinned] stage &quot;0&quot; stages[0].FROM") != std::string::npos);
  CHECK(junit.out.find("exempt[image-user] stage &quot;0&quot; stages[0].USER: exempted by comment") !=
        std::string::npos);

  const Json sarif = Json::parse(podguard({"check", "-o", "sarif", file}).out);
  const Json& run = sarif["runs"][0];
  bool region = false, suppressed = false;
  for (const auto& r : run["results"]) {
    const Json& loc = r["locations"][0]["physicalLocation"];
    if (r["ruleId"] == "dockerfile-exec-form") {
      region = loc["region"]["startLine"] == 6 && loc["region"]["startColumn"] == 1 &&
               r["message"]["text"].get<std::string>().find("stage \"0\": CMD in shell form") != std::string::npos;
    }
    if (r["ruleId"] == "image-user") suppressed = r["suppressions"][0]["justification"] == "the chart sets runAsUser, OPS-12";
  }
  CHECK(region);
  CHECK(suppressed);
  for (const auto& rule : run["tool"]["driver"]["rules"]) {
    const auto& tags = rule["properties"]["tags"];
    const bool dockerfile = std::find(tags.begin(), tags.end(), "dockerfile") != tags.end();
    if (rule["id"] == "image-user" || rule["id"] == "image-pinned") CHECK(dockerfile);
    if (rule["id"] == "run-as-non-root") CHECK_FALSE(dockerfile);
  }
}

TEST_CASE("config exemptions and actions apply to Dockerfiles: names match the path, containers the stage") {
  const fs::path dir = fs::temp_directory_path() / "podguard-cli-dockerfile-config";
  fs::create_directories(dir);
  const std::string config = (dir / "policy.yaml").string();
  std::ofstream(config) << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\n"
                           "rules: {image-labels: off, dockerfile-exec-form: deny}\n"
                           "exemptions:\n"
                           "  - rules: [image-pinned]\n    names: ['*/services/api/*']\n    reason: base image, OPS-3\n"
                           "  - rules: [image-build-tools]\n    containers: ['0']\n    reason: debug stage\n";
  const ProcessResult r = podguard({"check", "-c", config, dockerfiles("services/api/api.Dockerfile")});
  CHECK(r.exit_code == 1);
  CHECK(r.out.find("deny[dockerfile-exec-form]") != std::string::npos);
  CHECK(r.out.find("image-labels") == std::string::npos);
  CHECK(r.out.find("exempt[image-pinned] Dockerfile stage \"0\": exempted by config: base image, OPS-3") !=
        std::string::npos);
  CHECK(r.out.find("exempt[image-build-tools] Dockerfile stage \"0\": exempted by config: debug stage") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("podguard rules says what each rule judges") {
  const ProcessResult r = podguard({"rules"});
  CHECK(r.out.find("image-pinned (deny in contract)\n  An image without a tag") != std::string::npos);
  CHECK(r.out.find("  judges: pods and Dockerfiles\n") != std::string::npos);
  CHECK(r.out.find("image-user (warn in contract)\n  An image whose USER is missing, root (0) or not numeric.\n"
                   "  judges: Dockerfiles and images\n") != std::string::npos);
  CHECK(r.out.find("image-platform (deny in contract)\n  An image with no image for any of the platforms the policy "
                   "judges.\n  judges: images\n") != std::string::npos);
  CHECK(r.out.find("run-as-non-root (deny in contract)\n  A container whose effective UID is 0 or may be 0.\n"
                   "  judges: pods\n") != std::string::npos);
}

TEST_CASE("podguard's own Dockerfile passes its rules with no deny or warn finding") {
  const std::string own = (fs::path(PODGUARD_SOURCE_DIR) / "Dockerfile").string();
  const ProcessResult r = podguard({"check", "--fail-on", "warn", own});
  INFO(r.out);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("deny[") == std::string::npos);
  CHECK(r.out.find("warn[") == std::string::npos);
}

TEST_CASE("a field the API server would not decode is an error for that object: exit 2 at its line and column") {
  const std::string yaml =
      "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n"
      "    image: \"nginx:1.25\"\n    securityContext: {privileged: \"true\"}\n"
      "---\napiVersion: v1\nkind: Pod\nmetadata: {name: other}\nspec:\n  securityContext: {runAsUser: 0.0}\n"
      "  containers: [{name: app, image: \"nginx:1.25\"}]\n";
  const ProcessResult r = podguard({"check", "-"}, yaml);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("<stdin>:8:23: error: Pod default/web spec.containers[0].securityContext.privileged: expected a "
                   "boolean (true or false), got the string \"true\": the API server rejects this Pod; write it "
                   "without quotes") != std::string::npos);
  // The other object is still judged, with 0.0 read as the 0 the API server gets.
  CHECK(r.out.find("deny[run-as-non-root] Pod default/other") != std::string::npos);
  const Json json = Json::parse(podguard({"check", "-o", "json", "-"}, yaml).out);
  REQUIRE(json["errors"].size() == 1);
  CHECK(json["errors"][0]["line"] == 8);
  CHECK(json["errors"][0]["column"] == 23);
}

}  // namespace podguard

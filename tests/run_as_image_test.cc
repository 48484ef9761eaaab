// run-as-non-root and privileged-port with image facts: the image's USER
// read as the CRI runtime reads it (getUserFromImage) and judged as the
// kubelet judges it (getImageUser, verifyRunAsNonRoot), with podguard's
// minUid on top. Every USER below is run against runAsNonRoot unset, true
// and false and runAsUser unset, 0 and 1001, at container and pod level.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/policy/evaluate.h"
#include "engine/rules/builtin.h"
#include "engine/rules/contract/run_as.h"
#include "fixture_files.h"
#include "known_images.h"

namespace podguard {
namespace {

using testing::yaml_object;

constexpr std::string_view kImage = "ghcr.io/acme/app:1.4";

Policy only(std::string_view rule, const Json& params = Json::object()) {
  return testing::only_rule(builtin_rules().index_of(rule).value(), params);
}

std::vector<Violation> run(const Policy& policy, const std::string& yaml, const KnownImages* images) {
  EvalOptions options;
  options.images = images;
  return evaluate_object(policy, yaml_object(yaml), options).violations;
}

// A Pod with one container running kImage. `pod_sc` and `container_sc` are
// flow-style securityContext bodies ("runAsNonRoot: true"), empty for none.
std::string pod(const std::string& pod_sc, const std::string& container_sc, const std::string& extra = "") {
  std::string out = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n";
  if (!pod_sc.empty()) out += "  securityContext: {" + pod_sc + "}\n";
  out += "  containers:\n  - name: app\n    image: \"" + std::string(kImage) + "\"\n";
  if (!container_sc.empty()) out += "    securityContext: {" + container_sc + "}\n";
  return out + extra;
}

enum class Kind { kRoot, kUid, kName, kInvalid };

struct UserCase {
  std::string user;  // config.User as written
  Kind kind;
  std::int64_t uid = 0;  // kRoot, kUid, kInvalid: what the runtime reads
  std::string name;      // kName: the name the kubelet reports
};

// Go's strconv.ParseInt(s, 10, 64) on the part before the first ':'.
const std::vector<UserCase>& user_cases() {
  static const std::vector<UserCase> kCases = {
      {"", Kind::kRoot, 0, ""},
      {"0", Kind::kRoot, 0, ""},
      {"0:0", Kind::kRoot, 0, ""},
      {"00", Kind::kRoot, 0, ""},
      {"+0", Kind::kRoot, 0, ""},
      {"-0", Kind::kRoot, 0, ""},
      {":1001", Kind::kRoot, 0, ""},  // names no user: neither uid nor name, so getImageUser says 0
      {":", Kind::kRoot, 0, ""},
      {"1001", Kind::kUid, 1001, ""},
      {"1001:1001", Kind::kUid, 1001, ""},
      {"1001:0", Kind::kUid, 1001, ""},  // group 0 is not the kubelet's business
      {"1001:1001:x", Kind::kUid, 1001, ""},
      {"+1001", Kind::kUid, 1001, ""},
      {"01001", Kind::kUid, 1001, ""},
      {"65534", Kind::kUid, 65534, ""},
      {"2147483647", Kind::kUid, 2147483647, ""},
      {"app", Kind::kName, 0, "app"},
      {"app:app", Kind::kName, 0, "app"},
      {"root", Kind::kName, 0, "root"},  // a name: the kubelet does not know it is 0
      {"root:root", Kind::kName, 0, "root"},
      {"nobody:nogroup", Kind::kName, 0, "nobody"},
      {" 1001", Kind::kName, 0, " 1001"},  // ParseInt allows no spaces
      {"1001 ", Kind::kName, 0, "1001 "},
      {"1_001", Kind::kName, 0, "1_001"},  // underscores only with base 0
      {"0x3e9", Kind::kName, 0, "0x3e9"},
      {"+", Kind::kName, 0, "+"},
      {"-", Kind::kName, 0, "-"},
      {"9223372036854775808", Kind::kName, 0, "9223372036854775808"},  // out of int64: ParseInt fails
      {"-9223372036854775809", Kind::kName, 0, "-9223372036854775809"},
      {"-1", Kind::kInvalid, -1, ""},
      {"2147483648", Kind::kInvalid, 2147483648LL, ""},
      {"9223372036854775807", Kind::kInvalid, 9223372036854775807LL, ""},
      {"-9223372036854775807", Kind::kInvalid, -9223372036854775807LL, ""},
  };
  return kCases;
}

// Violations as comparable text: rule, action, container, path, message.
std::vector<std::string> text(const std::vector<Violation>& violations) {
  std::vector<std::string> out;
  for (const Violation& v : violations) {
    out.push_back(v.rule + " " + std::string(to_string(v.action)) + " " + v.container.value_or("-") + " " +
                  v.path.str() + ": " + v.message);
  }
  return out;
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// What run-as-non-root says about a container with runAsUser unset whose
// image has `c.user`, given runAsNonRoot unset or true.
void expect_image_verdict(const UserCase& c, bool non_root, const std::vector<Violation>& v) {
  const std::string quoted = "USER \"" + c.user + "\"";
  if (c.kind == Kind::kUid) {
    CHECK(v.empty());
    return;
  }
  REQUIRE(v.size() == 1);
  const std::string& m = v[0].message;
  CHECK(v[0].path.str() == "spec.containers[0].image");
  CHECK(v[0].container == "app");
  CHECK(m.rfind("image \"" + std::string(kImage) + "\"", 0) == 0);
  CHECK(contains(m, "set runAsUser: 1001"));
  CHECK(contains(m, "build the image with the numeric USER 1001"));
  CHECK(contains(m, "runAsNonRoot: true") != non_root);  // said as a fix only when it is not set
  switch (c.kind) {
    case Kind::kRoot:
      CHECK(contains(m, c.user.empty() ? "sets no USER" : quoted));
      CHECK(contains(m, "so the container runs as root"));
      CHECK(contains(m, "CreateContainerConfigError: container has runAsNonRoot and image will run as root") ==
            non_root);
      break;
    case Kind::kName:
      CHECK(contains(m, quoted));
      CHECK(contains(m, "the user name \"" + c.name + "\""));
      if (non_root) {
        CHECK(contains(m, "the kubelet will refuse to start the container (CreateContainerConfigError: image has "
                          "non-numeric user (" + c.name + "), cannot verify user is non-root)"));
      } else {
        CHECK(contains(m, c.name == "root" ? "so the container runs as root" : "so the container may run as root"));
      }
      break;
    case Kind::kInvalid:
      CHECK(contains(m, quoted + ", which is not a UID Kubernetes accepts (0 to 2147483647)"));
      CHECK(contains(m, "CreateContainerConfigError: image has an invalid user id") == non_root);
      break;
    case Kind::kUid:
      break;
  }
}

}  // namespace

TEST_CASE("read_image_user reads USER as the runtime's getUserFromImage and the kubelet's getImageUser") {
  for (const UserCase& c : user_cases()) {
    INFO("USER \"" << c.user << "\"");
    const rules::ImageUser u = rules::read_image_user(c.user);
    if (c.kind == Kind::kName) {
      CHECK_FALSE(u.uid.has_value());
      CHECK(u.name == c.name);
    } else {
      REQUIRE(u.uid.has_value());
      CHECK(*u.uid == c.uid);
      CHECK(u.name.empty());
    }
  }
}

TEST_CASE("run-as-non-root with image facts: every USER x runAsNonRoot x runAsUser") {
  const Policy policy = only("run-as-non-root");
  for (const UserCase& c : user_cases()) {
    const KnownImages images = testing::known({{std::string(kImage), testing::found_user(c.user)}});
    for (const char* level : {"container", "pod"}) {
      const bool at_pod = std::string(level) == "pod";
      auto spec = [&](const std::string& sc) { return at_pod ? pod(sc, "") : pod("", sc); };
      INFO("USER \"" << c.user << "\", set at " << level << " level");
      SUBCASE("runAsUser unset, runAsNonRoot unset or true: the image decides") {
        expect_image_verdict(c, false, run(policy, spec(""), &images));
        const std::vector<Violation> v = run(policy, spec("runAsNonRoot: true"), &images);
        expect_image_verdict(c, true, v);
        if (!v.empty() && at_pod) CHECK(contains(v[0].message, "runAsNonRoot is true in the pod securityContext"));
      }
      SUBCASE("runAsNonRoot false fails whatever the image says, as without facts") {
        for (const std::string sc : {"runAsNonRoot: false", "runAsNonRoot: false, runAsUser: 1001"}) {
          const std::vector<Violation> v = run(policy, spec(sc), &images);
          REQUIRE(v.size() == 1);
          CHECK(v[0].message.rfind("runAsNonRoot is false", 0) == 0);
          CHECK(v[0].path.str() == (at_pod ? "spec.securityContext.runAsNonRoot"
                                           : "spec.containers[0].securityContext.runAsNonRoot"));
          CHECK(text(v) == text(run(policy, spec(sc), nullptr)));
        }
      }
      SUBCASE("runAsUser set: the image is irrelevant") {
        for (const std::string sc : {"runAsUser: 0", "runAsUser: 0, runAsNonRoot: true", "runAsUser: 1001",
                                     "runAsUser: 1001, runAsNonRoot: true"}) {
          INFO(sc);
          const std::vector<Violation> v = run(policy, spec(sc), &images);
          CHECK(text(v) == text(run(policy, spec(sc), nullptr)));
          CHECK(v.size() == (contains(sc, "runAsUser: 0") ? 1U : 0U));
        }
      }
    }
  }
}

TEST_CASE("run-as-non-root with image facts: minUid") {
  const Policy policy = only("run-as-non-root", {{"minUid", 1000}});
  for (const char* user : {"5", "999:999", "+999"}) {
    INFO(user);
    const KnownImages images = testing::known({{std::string(kImage), testing::found_user(user)}});
    for (const std::string sc : {"", "runAsNonRoot: true"}) {
      const std::vector<Violation> v = run(policy, pod("", sc), &images);
      REQUIRE(v.size() == 1);
      CHECK(contains(v[0].message, "below the minimum UID 1000"));
      CHECK(contains(v[0].message, "set runAsUser: 1001"));
    }
  }
  const KnownImages ok = testing::known({{std::string(kImage), testing::found_user("1000")}});
  CHECK(run(policy, pod("", ""), &ok).empty());
}

TEST_CASE("run-as-non-root with image facts: platform images with different USERs") {
  const Policy policy = only("run-as-non-root");
  const std::string image = "image \"ghcr.io/acme/app:1.4\"";
  struct Case {
    const char* what;
    std::vector<testing::PlatformUser> users;
    std::string security_context;
    std::vector<std::string> messages_start;  // one finding per failing USER, in platform order
  };
  const std::vector<Case> cases = {
      {"one platform runs as root: the finding names it",
       {{"linux/amd64", "1001"}, {"linux/arm64", "0"}},
       "",
       {image + " for linux/arm64 has USER \"0\" (UID 0), so the container runs as root"}},
      {"two USERs fail differently: one finding each, naming their platforms",
       {{"linux/amd64", "app"}, {"linux/arm64", ""}, {"linux/arm/v7", "app"}},
       "runAsNonRoot: true",
       {image + " for linux/amd64, linux/arm/v7 has USER \"app\", the user name \"app\" rather than a UID; "
                "runAsNonRoot is true and runAsUser is not set, so the kubelet will refuse to start the container "
                "(CreateContainerConfigError: image has non-numeric user (app), cannot verify user is non-root)",
        image + " for linux/arm64 sets no USER, so the container runs as root; runAsNonRoot is true"}},
      {"the same USER on every platform: no platform named",
       {{"linux/amd64", "0"}, {"linux/arm64", "0"}},
       "",
       {image + " has USER \"0\" (UID 0)"}},
      {"every platform a non-root UID passes", {{"linux/amd64", "1001"}, {"linux/arm64", "1002:1002"}}, "", {}},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    const KnownImages images = testing::known({{std::string(kImage), testing::found_users(c.users)}});
    const std::vector<Violation> v = run(policy, pod("", c.security_context), &images);
    REQUIRE(v.size() == c.messages_start.size());
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(v[i].message.rfind(c.messages_start[i], 0) == 0);
  }
}

TEST_CASE("run-as-non-root without usable image facts judges the spec alone, as before lookups") {
  const Policy policy = only("run-as-non-root");
  const std::string nothing = pod("", "");
  const std::string non_root = pod("", "runAsNonRoot: true");
  const std::vector<Violation> spec_alone = run(policy, nothing, nullptr);
  REQUIRE(spec_alone.size() == 1);
  CHECK(spec_alone[0].message.rfind("neither runAsUser nor runAsNonRoot is set", 0) == 0);
  CHECK(run(policy, non_root, nullptr).empty());
  const std::vector<std::pair<const char*, ImageAnswer>> answers = {
      {"not found", testing::not_found("MANIFEST_UNKNOWN")},
      {"failed", testing::failed("ghcr.io", "connection refused")},
      {"no platform judged", testing::found({})},
      {"Windows images only", testing::found({{"windows/amd64", testing::config_with_user("")}})},
  };
  for (const auto& [what, answer] : answers) {
    INFO(what);
    const KnownImages images = testing::known({{std::string(kImage), answer}});
    CHECK(text(run(policy, nothing, &images)) == text(spec_alone));
    CHECK(run(policy, non_root, &images).empty());
  }
  SUBCASE("another image's answer does not apply") {
    const KnownImages images = testing::known({{"ghcr.io/acme/app:1.5", testing::found_user("1001")}});
    CHECK(text(run(policy, nothing, &images)) == text(spec_alone));
  }
  SUBCASE("Windows pods: the kubelet checks runAsUserName there, so the spec alone decides") {
    const KnownImages root = testing::known({{std::string(kImage), testing::found_user("0")}});
    const KnownImages uid = testing::known({{std::string(kImage), testing::found_user("1001")}});
    const std::string windows = pod("", "", "  os: {name: windows}\n");
    CHECK(text(run(policy, windows, &uid)) == text(run(policy, windows, nullptr)));
    CHECK(run(policy, windows, &uid).size() == 1);
    const std::string windows_non_root = pod("runAsNonRoot: true", "", "  os: {name: windows}\n");
    CHECK(run(policy, windows_non_root, &root).empty());
  }
}

TEST_CASE("privileged-port: a container whose image USER is a non-root UID is non-root") {
  const Policy policy = only("privileged-port");
  auto with_port = [](const std::string& sc) {
    std::string out = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: app\n"
                      "    image: \"" + std::string(kImage) + "\"\n    ports: [{containerPort: 80}]\n";
    if (!sc.empty()) out += "    securityContext: {" + sc + "}\n";
    return out;
  };
  const KnownImages uid = testing::known({{std::string(kImage), testing::found_user("1001")}});
  const KnownImages root = testing::known({{std::string(kImage), testing::found_user("0")}});
  const KnownImages name = testing::known({{std::string(kImage), testing::found_user("app")}});
  CHECK(run(policy, with_port(""), nullptr).empty());  // may be root: left to run-as-non-root
  const std::vector<Violation> v = run(policy, with_port(""), &uid);
  REQUIRE(v.size() == 1);
  CHECK(v[0].path.str() == "spec.containers[0].ports[0].containerPort");
  // runAsNonRoot: false does not make a UID-1001 image root
  CHECK(run(policy, with_port("runAsNonRoot: false"), &uid).size() == 1);
  CHECK(run(policy, with_port(""), &root).empty());
  CHECK(run(policy, with_port(""), &name).empty());
  // the kubelet refuses root and named users under runAsNonRoot: no port is ever bound
  CHECK(run(policy, with_port("runAsNonRoot: true"), &root).empty());
  CHECK(run(policy, with_port("runAsNonRoot: true"), nullptr).size() == 1);
  CHECK(run(policy, with_port("runAsUser: 0"), &uid).empty());
}

}  // namespace podguard

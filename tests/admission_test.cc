#include <doctest/doctest.h>

#include "engine/admission/admission.h"
#include "engine/rules/builtin.h"
#include "known_images.h"

namespace podguard {
namespace {

Json pod(const std::string& image) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"namespace", "shop"}}},
              {"spec", {{"containers", Json::array({{{"name", "app"}, {"image", image}}})}}}};
}

Json review(const std::string& operation, const Json& object, const Json& old_object = nullptr) {
  return Json{{"apiVersion", "admission.k8s.io/v1"},
              {"kind", "AdmissionReview"},
              {"request",
               {{"uid", "u1"}, {"operation", operation}, {"namespace", "shop"}, {"object", object}, {"oldObject", old_object}}}};
}

Policy only(std::string_view rule, Action action) {
  Policy p = Policy::defaults(builtin_rules());
  for (auto& s : p.rules) s.action = Action::kOff;
  p.rules[builtin_rules().index_of(rule).value()].action = action;
  return p;
}

}  // namespace

TEST_CASE("fit_warnings keeps each warning within 256 bytes, cut at a character boundary") {
  std::string long_utf8;
  for (int i = 0; i < 200; ++i) long_utf8 += "é";  // two bytes each
  const auto fitted = fit_warnings({long_utf8, "short"});
  REQUIRE(fitted.size() == 2);
  CHECK(fitted[0].size() <= kMaxWarningLength);
  CHECK(fitted[0].substr(fitted[0].size() - 3) == "...");
  const std::string body = fitted[0].substr(0, fitted[0].size() - 3);
  CHECK(body.size() % 2 == 0);  // no half character
  CHECK(fitted[1] == "short");
}

TEST_CASE("fit_warnings keeps the total within 4096 bytes and says how many were left out") {
  const std::vector<std::string> many(100, std::string(200, 'w'));
  const auto fitted = fit_warnings(many);
  std::size_t total = 0;
  for (const auto& w : fitted) total += w.size();
  CHECK(total <= kMaxWarningsTotal);
  CHECK(fitted.back().find("more warnings not shown") != std::string::npos);
  const std::size_t shown = fitted.size() - 1;
  CHECK(fitted.back().rfind(std::to_string(100 - shown) + " more", 0) == 0);
}

TEST_CASE("malformed reviews are errors with a reason") {
  const Policy p = Policy::defaults(builtin_rules());
  CHECK_FALSE(review_admission_text(p, "{").error.ok());
  CHECK(review_admission_text(p, "[]").error.message() == "the body is not a JSON object");
  CHECK(review_admission(p, Json{{"apiVersion", "v1"}, {"kind", "AdmissionReview"}}).error.message().find("apiVersion") == 0);
  Json no_uid = review("CREATE", pod("app:1"));
  no_uid["request"].erase("uid");
  CHECK(review_admission(p, no_uid).error.message() == "request.uid is missing");
  Json bad_op = review("PATCH", pod("app:1"));
  CHECK_FALSE(review_admission(p, bad_op).error.ok());
  Json no_object = review("CREATE", nullptr);
  CHECK(review_admission(p, no_object).error.message() == "request.object is missing for CREATE");
}

TEST_CASE("UPDATE ratchets: only violations the old object lacked deny") {
  const Policy p = only("image-pinned", Action::kDeny);
  const auto same = review_admission(p, review("UPDATE", pod("nginx"), pod("nginx")));
  REQUIRE(same.outcome);
  CHECK(same.outcome->decision == Decision::kAllowed);
  CHECK(same.outcome->ratcheted == std::vector<bool>{true});
  const auto fixed_then_broken = review_admission(p, review("UPDATE", pod("nginx"), pod("nginx:1.25")));
  CHECK(fixed_then_broken.outcome->decision == Decision::kDenied);
  const auto create = review_admission(p, review("CREATE", pod("nginx")));
  CHECK(create.outcome->decision == Decision::kDenied);
  CHECK(create.outcome->response["response"]["status"]["code"] == 403);
}

TEST_CASE("UPDATE ratchets keyed list items by their key, not their position") {
  const Policy p = only("no-secret-literals", Action::kDeny);
  const auto with_env = [](Json env) {
    Json o = pod("app:1");
    o["spec"]["containers"][0]["env"] = std::move(env);
    return o;
  };
  const Json leaked = {{"name", "DB_PASSWORD"}, {"value", "hunter2-Xk9"}};
  const Json plain = {{"name", "LOG_LEVEL"}, {"value", "debug"}};
  const Json before = with_env(Json::array({leaked}));
  REQUIRE(review_admission(p, review("CREATE", before)).outcome->decision == Decision::kDenied);

  // A variable added in front moves the old violation from env[0] to env[1]:
  // still the same variable, so the update is not denied for it.
  const auto added_in_front = review_admission(p, review("UPDATE", with_env(Json::array({plain, leaked})), before));
  REQUIRE(added_in_front.outcome);
  CHECK(added_in_front.outcome->decision == Decision::kAllowed);
  CHECK(added_in_front.outcome->ratcheted == std::vector<bool>{true});

  // A new secret in the old one's position is a new violation.
  const Json other = {{"name", "API_TOKEN"}, {"value", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}};
  const auto replaced = review_admission(p, review("UPDATE", with_env(Json::array({other})), before));
  CHECK(replaced.outcome->decision == Decision::kDenied);

  // Containers reordered, with their env: nothing new.
  Json two = pod("app:1");
  two["spec"]["containers"] = Json::array({{{"name", "a"}, {"image", "a:1"}, {"env", Json::array({leaked})}},
                                           {{"name", "b"}, {"image", "b:1"}}});
  Json swapped = two;
  std::swap(swapped["spec"]["containers"][0], swapped["spec"]["containers"][1]);
  CHECK(review_admission(p, review("UPDATE", swapped, two)).outcome->decision == Decision::kAllowed);
}

TEST_CASE("UPDATE ratchets ports by name or number, and volumes by name") {
  const Policy p = only("privileged-port", Action::kDeny);
  const auto with_ports = [](Json ports) {
    Json o = pod("app:1");
    o["spec"]["securityContext"] = {{"runAsUser", 1001}};
    o["spec"]["containers"][0]["ports"] = std::move(ports);
    return o;
  };
  const Json low = {{"containerPort", 80}};
  const Json high = {{"containerPort", 8080}};
  const Json before = with_ports(Json::array({low}));
  REQUIRE(review_admission(p, review("CREATE", before)).outcome->decision == Decision::kDenied);
  CHECK(review_admission(p, review("UPDATE", with_ports(Json::array({high, low})), before)).outcome->decision ==
        Decision::kAllowed);
  const Json other_low = {{"containerPort", 443}};
  CHECK(review_admission(p, review("UPDATE", with_ports(Json::array({other_low})), before)).outcome->decision ==
        Decision::kDenied);
  const Json named_low = {{"name", "http"}, {"containerPort", 80}};
  const Json named_before = with_ports(Json::array({named_low}));
  const Json renumbered = {{"name", "http"}, {"containerPort", 81}};
  CHECK(review_admission(p, review("UPDATE", with_ports(Json::array({high, renumbered})), named_before))
            .outcome->decision == Decision::kAllowed);  // the same named port

  const Policy host_path = only("pss.hostPathVolumes", Action::kDeny);
  const auto with_volumes = [](Json volumes) {
    Json o = pod("app:1");
    o["spec"]["volumes"] = std::move(volumes);
    return o;
  };
  const Json node_logs = {{"name", "logs"}, {"hostPath", {{"path", "/var/log"}}}};
  const Json scratch = {{"name", "scratch"}, {"emptyDir", Json::object()}};
  const Json with_logs = with_volumes(Json::array({node_logs}));
  REQUIRE(review_admission(host_path, review("CREATE", with_logs)).outcome->decision == Decision::kDenied);
  CHECK(review_admission(host_path, review("UPDATE", with_volumes(Json::array({scratch, node_logs})), with_logs))
            .outcome->decision == Decision::kAllowed);
}

TEST_CASE("the webhook's JSON: integral floats are judged as the integers they are") {
  Json root = pod("app:1");
  root["spec"]["securityContext"] = {{"runAsUser", 0}};
  std::string body(review("CREATE", root).dump());
  const std::string zero = "\"runAsUser\":0";
  REQUIRE(body.find(zero) != std::string::npos);
  body.replace(body.find(zero), zero.size(), "\"runAsUser\":0.0");
  const Policy p = only("run-as-non-root", Action::kDeny);
  const AdmissionResult as_float = review_admission_text(p, body);
  REQUIRE(as_float.outcome);
  CHECK(as_float.outcome->decision == Decision::kDenied);
  REQUIRE(as_float.outcome->violations.size() == 1);
  CHECK(as_float.outcome->violations[0].rule == "run-as-non-root");

}

TEST_CASE("kinds without a pod spec are untouched") {
  Json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}};
  const auto r = review_admission(Policy::defaults(builtin_rules()), review("CREATE", cm));
  REQUIRE(r.outcome);
  CHECK(r.outcome->decision == Decision::kUntouched);
  CHECK(r.outcome->response["response"]["allowed"] == true);
}

}  // namespace podguard

namespace podguard {

TEST_CASE("bodies nlohmann would throw on are malformed reviews, not crashes (found by fuzzing)") {
  const Policy p = Policy::defaults(builtin_rules());
  for (const char* body : {"555e55555O}\n}\n", "1e99999", "{\"a\": 1} {\"b\": 2}", "", "\xff"}) {
    INFO(body);
    const AdmissionResult r = review_admission_text(p, body);
    REQUIRE_FALSE(r.error.ok());
    CHECK(!r.error.message().empty());
  }
}

}  // namespace podguard

namespace podguard {
namespace {

// A Pod with `n` containers, all with an unpinned image.
Json pod_with_containers(std::size_t n, const std::string& image = "nginx") {
  Json containers = Json::array();
  for (std::size_t i = 0; i < n; ++i) containers.push_back({{"name", "c" + std::to_string(i)}, {"image", image}});
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "p"}, {"namespace", "shop"}}},
              {"spec", {{"containers", containers}}}};
}

}  // namespace

TEST_CASE("the webhook lists a bounded number of findings per rule and counts the rest") {
  const Policy p = only("image-pinned", Action::kDeny);
  const std::size_t n = kMaxFindingsPerRule + 15;
  const auto r = review_admission(p, review("CREATE", pod_with_containers(n)));
  REQUIRE(r.outcome);
  CHECK(r.outcome->decision == Decision::kDenied);
  CHECK(r.outcome->violations.size() == kMaxFindingsPerRule);
  REQUIRE(r.outcome->omitted.size() == 1);
  CHECK(r.outcome->omitted[0].findings.rule == "image-pinned");
  CHECK(r.outcome->omitted[0].findings.violations == 15);
  CHECK_FALSE(r.outcome->omitted[0].ratcheted);
  const std::string message = r.outcome->response["response"]["status"]["message"].get<std::string>();
  CHECK(message.find("Pod shop/p breaks 1 rule of the container contract (25 findings):") == 0);
  CHECK(message.find("container \"c9\"") != std::string::npos);
  CHECK(message.find("container \"c10\"") == std::string::npos);
  CHECK(message.find("[image-pinned] and 15 more findings of this rule") != std::string::npos);
}

TEST_CASE("podguard check's evaluation keeps every finding; the webhook's is capped, exemptions too") {
  const Policy p = only("image-pinned", Action::kDeny);
  const Json object = pod_with_containers(40);
  EvalOptions all;
  const ObjectVerdict every = evaluate_object(p, object, all);
  CHECK(every.violations.size() == 40);
  CHECK(every.omitted.empty());
  CHECK(every.violation_count("image-pinned") == 40);

  EvalOptions capped;
  capped.max_findings_per_rule = 3;
  const ObjectVerdict some = evaluate_object(p, object, capped);
  CHECK(some.violations.size() == 3);
  REQUIRE(some.omitted.size() == 1);
  CHECK(some.omitted[0].violations == 37);
  CHECK(some.violation_count("image-pinned") == 40);

  Json exempt = object;
  exempt["metadata"]["annotations"] = {{"podguard.io/exempt", "image-pinned"},
                                       {"podguard.io/exempt-reason", "legacy batch"}};
  const ObjectVerdict exempted = evaluate_object(p, exempt, capped);
  CHECK(exempted.violations.empty());
  CHECK(exempted.exempted.size() == 3);
  REQUIRE(exempted.omitted.size() == 1);
  CHECK(exempted.omitted[0].exempted == 37);
  CHECK(exempted.omitted[0].violations == 0);
}

TEST_CASE("UPDATE of an object with more findings of a rule than are listed ratchets by count") {
  const Policy p = only("image-pinned", Action::kDeny);
  const std::size_t n = kMaxFindingsPerRule + 5;
  const auto same = review_admission(p, review("UPDATE", pod_with_containers(n), pod_with_containers(n)));
  REQUIRE(same.outcome);
  CHECK(same.outcome->decision == Decision::kAllowed);
  REQUIRE(same.outcome->omitted.size() == 1);
  CHECK(same.outcome->omitted[0].ratcheted);
  const auto grown = review_admission(p, review("UPDATE", pod_with_containers(n + 1), pod_with_containers(n)));
  CHECK(grown.outcome->decision == Decision::kDenied);
  const auto fewer = review_admission(p, review("UPDATE", pod_with_containers(n - 1), pod_with_containers(n)));
  CHECK(fewer.outcome->decision == Decision::kAllowed);
  // Unpinned before, none listed then, all of them new: the count grew from 0.
  const auto newly = review_admission(p, review("UPDATE", pod_with_containers(n), pod_with_containers(n, "nginx:1.25")));
  CHECK(newly.outcome->decision == Decision::kDenied);
}

TEST_CASE("a review of thousands of violating containers answers within the API server's limits") {
  const Policy p = Policy::defaults(builtin_rules());
  Json object = pod_with_containers(3000);
  for (Json& c : object["spec"]["containers"]) c["securityContext"] = {{"runAsUser", 0}, {"privileged", true}};
  const auto r = review_admission(p, review("CREATE", object));
  REQUIRE(r.outcome);
  CHECK(r.outcome->decision == Decision::kDenied);
  const Json& response = r.outcome->response["response"];
  CHECK(response["status"]["message"].get<std::string>().size() <= 16 * 1024);
  std::size_t total = 0;
  for (const Json& w : response["warnings"]) total += w.get<std::string>().size();
  CHECK(total <= kMaxWarningsTotal);
  std::size_t listed = 0;
  for (const Violation& v : r.outcome->violations) listed += v.rule == "no-privileged" ? 1 : 0;
  CHECK(listed == kMaxFindingsPerRule);
}

TEST_CASE("the images audit annotation: each tag reference with its digest, or why it is not known") {
  const std::string pinned = "ghcr.io/acme/sidecar@sha256:" + std::string(64, 'e');
  Json object = pod("ghcr.io/acme/api:latest");
  Json& containers = object["spec"]["containers"];
  containers.push_back({{"name", "sidecar"}, {"image", pinned}});
  containers.push_back({{"name", "gone"}, {"image", "ghcr.io/acme/gone:1"}});
  containers.push_back({{"name", "far"}, {"image", "quay.io/acme/far:2"}});
  Policy policy = only("image-pinned", Action::kAudit);
  policy.images.lookup = true;
  const Json r = review("CREATE", object);
  const std::vector<std::string_view> images = admission_images(policy, r);
  CHECK(images == std::vector<std::string_view>{"ghcr.io/acme/api:latest", pinned, "ghcr.io/acme/gone:1",
                                                "quay.io/acme/far:2"});
  const KnownImages known = testing::known({{"ghcr.io/acme/api:latest", testing::found_user("1001")},
                                            {pinned, testing::found_user("1001")},
                                            {"ghcr.io/acme/gone:1", testing::not_found("manifest unknown")},
                                            {"quay.io/acme/far:2", testing::failed("quay.io", "timed out")}});
  const AdmissionResult result = review_admission(policy, r, today_utc(), &known);
  REQUIRE(result.outcome);
  const Json& audit = result.outcome->response["response"]["auditAnnotations"];
  // The pinned sidecar is left out: its reference names its digest already.
  CHECK(audit["images"] == "ghcr.io/acme/api:latest@" + testing::kTestDigest +
                               "; ghcr.io/acme/gone:1 not found in ghcr.io; quay.io/acme/far:2 not looked up "
                               "(quay.io failed)");
  CHECK(audit.contains("image-pinned"));  // the rule's own audit entries stay beside it

  SUBCASE("no annotation when every image is pinned by digest and found") {
    const KnownImages only_pinned = testing::known({{pinned, testing::found_user("1001")}});
    const AdmissionResult pinned_only = review_admission(policy, review("CREATE", pod(pinned)), today_utc(), &only_pinned);
    REQUIRE(pinned_only.outcome);
    CHECK(!pinned_only.outcome->response["response"].value("auditAnnotations", Json::object()).contains("images"));
  }
  SUBCASE("cut at 2048 bytes like every audit value") {
    std::vector<std::pair<std::string, ImageAnswer>> many;
    Json big = pod("ghcr.io/acme/app-0:1");
    for (int i = 1; i < 40; ++i) {
      big["spec"]["containers"].push_back(
          {{"name", "c" + std::to_string(i)}, {"image", "ghcr.io/acme/app-" + std::to_string(i) + ":1"}});
    }
    for (int i = 0; i < 40; ++i) many.emplace_back("ghcr.io/acme/app-" + std::to_string(i) + ":1", testing::found_user("1"));
    const KnownImages lots = testing::known(std::move(many));
    const AdmissionResult cut = review_admission(policy, review("CREATE", big), today_utc(), &lots);
    REQUIRE(cut.outcome);
    const std::string value = cut.outcome->response["response"]["auditAnnotations"]["images"].get<std::string>();
    CHECK(value.size() <= 2048);
    CHECK(value.substr(value.size() - 3) == "...");
  }
}

}  // namespace podguard

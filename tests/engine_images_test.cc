// evaluate_object with image lookups' answers (EvalOptions::images): the
// image rules judged per container, image-pinned's digest, failed lookups
// under images.onError, and every mechanism the spec's findings go through
// (namespace overrides, annotation and config exemptions, the findings cap)
// applied to them.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "engine/policy/evaluate.h"
#include "engine/policy/evaluate_image.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"
#include "known_images.h"

namespace podguard {
namespace {

using testing::yaml_object;

Policy config(const std::string& body) { return testing::policy_from_config(body); }

// Copies: the verdicts they come from are often temporaries.
std::vector<Violation> of(const ObjectVerdict& v, std::string_view rule) {
  std::vector<Violation> out;
  for (const Violation& x : v.violations) {
    if (x.rule == rule) out.push_back(x);
  }
  return out;
}

std::vector<AppliedExemption> exempted(const ObjectVerdict& v, std::string_view rule) {
  std::vector<AppliedExemption> out;
  for (const AppliedExemption& x : v.exempted) {
    if (x.rule == rule) out.push_back(x);
  }
  return out;
}

ObjectVerdict eval(const Policy& policy, const std::string& yaml, const KnownImages* images,
                   std::size_t cap = 0) {
  EvalOptions options;
  options.images = images;
  options.max_findings_per_rule = cap;
  return evaluate_object(policy, yaml_object(yaml), options);
}

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

// A Deployment whose containers run `api` (init, app) and `proxy` (proxy).
const std::string kApi = "ghcr.io/acme/api:1.4";
const std::string kProxy = "ghcr.io/acme/proxy:2.0";
std::string deployment(const std::string& ns = "shop", const std::string& annotations = "") {
  return "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: " + ns +
         "}\nspec:\n  template:\n    metadata: {annotations: {" + annotations +
         "}}\n    spec:\n      securityContext: {runAsNonRoot: true, runAsUser: 1001}\n"
         "      initContainers: [{name: init, image: \"" + kApi + "\"}]\n"
         "      containers:\n      - {name: app, image: \"" + kApi + "\"}\n"
         "      - {name: proxy, image: \"" + kProxy + "\"}\n";
}

}  // namespace

TEST_CASE("image rules judge the image of every container lookups found") {
  const Policy policy = Policy::defaults(builtin_rules());
  const KnownImages images =
      testing::known({{kApi, testing::found_user("")}, {kProxy, testing::found_user("1001")}});
  const ObjectVerdict v = eval(policy, deployment(), &images);
  const auto user = of(v, "image-user");
  REQUIRE(user.size() == 2);  // init and app share the root image; proxy's is fine
  CHECK(user[0].container == "init");
  CHECK(user[0].path.str() == "spec.template.spec.initContainers[0].image");
  CHECK(user[1].container == "app");
  CHECK(user[1].path.str() == "spec.template.spec.containers[0].image");
  CHECK(user[0].action == Action::kWarn);  // image-user's action in the contract profile
  CHECK(user[0].message.rfind("image \"ghcr.io/acme/api:1.4\": the image sets no USER, so its containers run as root",
                               0) == 0);
  CHECK(of(v, "image-healthcheck").size() == 3);  // no HEALTHCHECK in either

  SUBCASE("without lookups the image rules judge nothing, as before") {
    const ObjectVerdict none = eval(policy, deployment(), nullptr);
    CHECK(of(none, "image-user").empty());
    CHECK(of(none, "image-healthcheck").empty());
    const KnownImages empty;
    CHECK(eval(policy, deployment(), &empty).violations.size() == none.violations.size());
  }
}

TEST_CASE("a multi-platform image's findings say which platform they are about, once") {
  const Policy policy = testing::only_rule(builtin_rules().index_of("image-user").value(), Json::object());
  const KnownImages images = testing::known(
      {{kApi, testing::found_users({{"linux/amd64", "1001"}, {"linux/arm64", "root"}})}});
  const auto v = of(eval(policy, deployment(), &images), "image-user");
  REQUIRE(v.size() == 2);
  CHECK(v[0].message.rfind("image \"ghcr.io/acme/api:1.4\": the image for linux/arm64's USER \"root\"", 0) == 0);
  CHECK(v[0].message.find("linux/arm64") == v[0].message.rfind("linux/arm64"));
}

TEST_CASE("a reference the registry says does not exist is image-resolvable's, on each container") {
  const Policy policy = Policy::defaults(builtin_rules());
  const KnownImages images = testing::known({{kApi, testing::not_found("MANIFEST_UNKNOWN: manifest unknown")}});
  const ObjectVerdict v = eval(policy, deployment(), &images);
  const auto missing = of(v, "image-resolvable");
  REQUIRE(missing.size() == 2);
  CHECK(missing[1].container == "app");
  CHECK(missing[1].action == Action::kDeny);
  CHECK(missing[1].path.str() == "spec.template.spec.containers[0].image");
  CHECK(missing[1].message ==
        "image \"ghcr.io/acme/api:1.4\": the registry says ghcr.io/acme/api:1.4 does not exist (MANIFEST_UNKNOWN: "
        "manifest unknown), so a pod using it stays in ImagePullBackOff; check the repository and tag, and that the "
        "image was pushed");
  CHECK(of(v, "image-user").empty());  // nothing to judge
}

TEST_CASE("a failed lookup is judged by images.onError, on each container using the image") {
  const KnownImages images = testing::known({{kProxy, testing::failed("ghcr.io", "timed out after 2s")}});
  SUBCASE("allow: nothing") {
    const ObjectVerdict v = eval(config("images: {onError: allow}\n"), deployment(), &images);
    CHECK(of(v, "image-resolvable").empty());
    CHECK(exempted(v, "image-resolvable").empty());
  }
  for (const char* on_error : {"warn", "deny"}) {
    SUBCASE(on_error) {
      const ObjectVerdict v = eval(config(std::string("images: {onError: ") + on_error + "}\n"), deployment(), &images);
      const auto failed = of(v, "image-resolvable");
      REQUIRE(failed.size() == 1);
      CHECK(failed[0].container == "proxy");
      CHECK(failed[0].path.str() == "spec.template.spec.containers[1].image");
      CHECK(failed[0].action == (std::string(on_error) == "deny" ? Action::kDeny : Action::kWarn));
      CHECK(failed[0].message == "image \"ghcr.io/acme/proxy:2.0\": the image could not be looked up in ghcr.io: "
                                  "timed out after 2s (images.onError: " + std::string(on_error) +
                                      " makes this a " + on_error + " finding; allow would judge nothing)");
    }
  }
  SUBCASE("a namespace override of image-resolvable caps onError there; off reports nothing") {
    const Policy p = config(R"(
images: {onError: deny}
overrides:
- namespaces: [dev]
  rules: {image-resolvable: warn}
- namespaces: [sandbox]
  rules: {image-resolvable: off}
)");
    const auto prod = of(eval(p, deployment("shop"), &images), "image-resolvable");
    REQUIRE(prod.size() == 1);
    CHECK(prod[0].action == Action::kDeny);
    const auto dev = of(eval(p, deployment("dev"), &images), "image-resolvable");
    REQUIRE(dev.size() == 1);
    CHECK(dev[0].action == Action::kWarn);
    CHECK(contains(dev[0].message, "(images.onError: deny, but image-resolvable is at warn here, so this is a warn "
                                    "finding; allow would judge nothing)"));
    CHECK(of(eval(p, deployment("sandbox"), &images), "image-resolvable").empty());
  }
  SUBCASE("the same words for an image judged alone (podguard image)") {
    const Policy p = config("images: {onError: deny}\n");
    const ObjectVerdict v = evaluate_unreachable_image(p, kProxy, "ghcr.io", "timed out after 2s", {});
    CHECK(v.kind == "Image");
    CHECK(v.name == kProxy);
    REQUIRE(v.violations.size() == 1);
    CHECK(v.violations[0].rule == "image-resolvable");
    CHECK(v.violations[0].action == Action::kDeny);
    CHECK(v.violations[0].message == "the image could not be looked up in ghcr.io: timed out after 2s "
                                     "(images.onError: deny makes this a deny finding; allow would judge nothing)");
    CHECK(evaluate_unreachable_image(config("images: {onError: allow}\n"), kProxy, "ghcr.io", "x", {})
              .violations.empty());
    const ObjectVerdict covered = evaluate_unreachable_image(
        config("images: {onError: deny}\nexemptions:\n- {images: [\"ghcr.io/acme/*\"], reason: vendor mirror}\n"),
        kProxy, "ghcr.io", "x", {});
    CHECK(covered.violations.empty());
    REQUIRE(covered.exempted.size() == 1);
    CHECK(covered.exempted[0].reason == "vendor mirror");
  }
}

TEST_CASE("image findings on containers go through exemptions like any other finding") {
  const KnownImages images = testing::known({{kApi, testing::found_user("0")}, {kProxy, testing::found_user("0")}});
  SUBCASE("config exemption by image glob") {
    const Policy p = config("exemptions:\n- {rules: [image-user], images: [\"ghcr.io/acme/proxy:*\"], reason: vendor}\n");
    const ObjectVerdict v = eval(p, deployment(), &images);
    CHECK(of(v, "image-user").size() == 2);
    const auto e = exempted(v, "image-user");
    REQUIRE(e.size() == 1);
    CHECK(e[0].container == "proxy");
    CHECK(e[0].source == "config");
    CHECK(e[0].path.str() == "spec.template.spec.containers[1].image");
  }
  SUBCASE("config exemption by container name") {
    const Policy p = config("exemptions:\n- {rules: [image-user], containers: [init], reason: setup}\n");
    const ObjectVerdict v = eval(p, deployment(), &images);
    CHECK(of(v, "image-user").size() == 2);
    CHECK(exempted(v, "image-user").size() == 1);
  }
  SUBCASE("annotation exemption on the pod template") {
    const Policy p = Policy::defaults(builtin_rules());
    const ObjectVerdict v = eval(
        p, deployment("shop", "podguard.io/exempt: image-user, podguard.io/exempt-reason: \"base image, OPS-7\""),
        &images);
    CHECK(of(v, "image-user").empty());
    const auto e = exempted(v, "image-user");
    REQUIRE(e.size() == 3);
    CHECK(e[0].source == "annotation");
    CHECK(e[0].reason == "base image, OPS-7");
    CHECK(e[0].action == Action::kWarn);
  }
  SUBCASE("a failed lookup's finding is exempted at its onError action") {
    const KnownImages down = testing::known({{kProxy, testing::failed("ghcr.io", "503")}});
    const Policy p = config("images: {onError: warn}\nexemptions:\n- {rules: [image-resolvable], namespaces: [shop], reason: flaky}\n");
    const ObjectVerdict v = eval(p, deployment(), &down);
    CHECK(of(v, "image-resolvable").empty());
    const auto e = exempted(v, "image-resolvable");
    REQUIRE(e.size() == 1);
    CHECK(e[0].action == Action::kWarn);
  }
  SUBCASE("namespace overrides set image rules' actions per namespace") {
    const Policy p = config("overrides:\n- namespaces: [dev]\n  rules: {image-user: deny, image-healthcheck: off}\n");
    const ObjectVerdict dev = eval(p, deployment("dev"), &images);
    REQUIRE(of(dev, "image-user").size() == 3);
    CHECK(of(dev, "image-user")[0].action == Action::kDeny);
    CHECK(of(dev, "image-healthcheck").empty());
    CHECK(of(eval(p, deployment("shop"), &images), "image-healthcheck").size() == 3);
  }
}

TEST_CASE("image findings count against the findings cap per rule") {
  const Policy policy = Policy::defaults(builtin_rules());
  const KnownImages images = testing::known({{kApi, testing::found_user("0")}, {kProxy, testing::found_user("0")}});
  const ObjectVerdict v = eval(policy, deployment(), &images, 1);
  CHECK(of(v, "image-user").size() == 1);
  CHECK(v.violation_count("image-user") == 3);
  const auto omitted = std::find_if(v.omitted.begin(), v.omitted.end(),
                                    [](const OmittedFindings& o) { return o.rule == "image-user"; });
  REQUIRE(omitted != v.omitted.end());
  CHECK(omitted->violations == 2);
}

TEST_CASE("image-pinned names the digest to pin to when lookups found the image") {
  const std::size_t rule = builtin_rules().index_of("image-pinned").value();
  auto pod = [](const std::string& image) {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: app, image: \"" + image +
           "\"}]\n";
  };
  auto message = [&](const std::string& image, const Json& params, bool known) {
    const KnownImages images = testing::known({{image, testing::found_user("1001")}});
    const auto v = of(eval(testing::only_rule(rule, params), pod(image), known ? &images : nullptr), "image-pinned");
    return v.empty() ? std::string() : v[0].message;
  };
  const std::string& digest = testing::kTestDigest;
  CHECK(message("ghcr.io/acme/api:latest", Json::object(), true) ==
        "image \"ghcr.io/acme/api:latest\" uses the mutable tag \"latest\"; pin it to ghcr.io/acme/api:latest@" +
            digest + " (what latest resolves to now), or to a release tag");
  CHECK(message("ghcr.io/acme/api", Json::object(), true) ==
        "image \"ghcr.io/acme/api\" has no tag, so it means the mutable :latest; pin it to ghcr.io/acme/api@" + digest +
            " (what :latest resolves to now)");
  CHECK(message("ghcr.io/acme/api:1.4", {{"requireDigest", true}}, true) ==
        "image \"ghcr.io/acme/api:1.4\" is not pinned by digest and requireDigest is on; pin it to "
        "ghcr.io/acme/api:1.4@" + digest + " (what 1.4 resolves to now)");
  // without facts: the placeholder, as before
  CHECK(contains(message("ghcr.io/acme/api:latest", Json::object(), false), "@sha256:<digest>"));
  // pinned references and other findings are untouched
  CHECK(message("ghcr.io/acme/api:1.4", Json::object(), true).empty());
  CHECK(message("ghcr.io/acme/api:1.4@" + digest, {{"requireDigest", true}}, true).empty());
  const std::string registry = message("docker.io/acme/api:1.4", {{"allowedRegistries", {"ghcr.io"}}}, true);
  CHECK(contains(registry, "which is not in allowedRegistries"));
  CHECK_FALSE(contains(registry, digest));
}

namespace {

int both_checks_pod_calls = 0;

void count_pod(const PodView&, const RuleParams&, Findings& out) {
  ++both_checks_pod_calls;
  out.add(FieldPath().key("spec"), "from the pod spec");
}

void flag_image(const ImageSubject& image, const RuleParams&, ImageFindings& out) {
  if (image.facts != nullptr) out.add(ImageFindings::kWholeImage, FieldPath(), "from the image");
}

}  // namespace

TEST_CASE("a rule with a pod check and an image check runs both") {
  static const Rule kBoth{
      .doc = {.id = "both-checks",
              .summary = "s",
              .description = "d",
              .rationale = "r",
              .remediation = "m"},
      .contract_action = Action::kDeny,
      .check = count_pod,
      .image_check = flag_image,
  };
  const RuleRegistry registry({&kBoth});
  const Policy policy = Policy::defaults(registry);
  const KnownImages images = testing::known({{kApi, testing::found_user("1001")}});
  both_checks_pod_calls = 0;
  const ObjectVerdict v = eval(policy, deployment(), &images);
  CHECK(both_checks_pod_calls == 1);
  REQUIRE(v.violations.size() == 3);  // the pod's, then init's and app's image
  CHECK(v.violations[0].message == "from the pod spec");
  CHECK(v.violations[1].message == "image \"ghcr.io/acme/api:1.4\": from the image");
  CHECK(v.violations[2].container == "app");
  CHECK(eval(policy, deployment(), nullptr).violations.size() == 1);
}

}  // namespace podguard

namespace podguard {
namespace {

// The verdict's violations as comparable text.
std::vector<std::string> lines(const ObjectVerdict& v) {
  std::vector<std::string> out;
  for (const Violation& x : v.violations) {
    out.push_back(x.rule + "|" + std::string(to_string(x.action)) + "|" + x.container.value_or("") + "|" +
                  x.path.str() + "|" + x.message);
  }
  return out;
}

}  // namespace

TEST_CASE("image rules' findings judged before (ImageJudgements) stand in for judging again, where they may") {
  const Policy policy = config("overrides:\n- namespaces: [legacy]\n  rules: {image-user: audit}\n");
  const KnownImages images =
      testing::known({{kApi, testing::found_user("")}, {kProxy, testing::found_user("1001")}});
  const ImageAnswer* api = images.find(kApi);
  const ImageAnswer* proxy = images.find(kProxy);
  REQUIRE(api != nullptr);
  REQUIRE(proxy != nullptr);
  const ImageJudgement api_judged = judge_image(policy, kApi, *api->facts);
  const ImageJudgement proxy_judged = judge_image(policy, kProxy, *proxy->facts);

  EvalOptions plain;
  plain.images = &images;
  ImageJudgements judged;
  judged.add(kApi, api->facts.get(), &api_judged);
  judged.add(kProxy, proxy->facts.get(), &proxy_judged);
  EvalOptions memo = plain;
  memo.judged_images = &judged;

  SUBCASE("the same verdict as judging the images here") {
    CHECK(lines(evaluate_object(policy, yaml_object(deployment()), memo)) ==
          lines(evaluate_object(policy, yaml_object(deployment()), plain)));
  }
  // A judgement that says something else shows where it is used.
  ImageJudgement marked = api_judged;
  const std::size_t user_rule = *policy.registry->index_of("image-user");
  marked.by_rule[user_rule] = {ImageFindings::Entry{ImageFindings::kWholeImage, FieldPath(), "MARKED"}};
  ImageJudgements marked_judged;
  marked_judged.add(kApi, api->facts.get(), &marked);
  EvalOptions with_marked = plain;
  with_marked.judged_images = &marked_judged;

  SUBCASE("used for the namespaces that take the policy's base settings") {
    const auto user = of(evaluate_object(policy, yaml_object(deployment()), with_marked), "image-user");
    REQUIRE(user.size() == 2);
    CHECK(user[0].message == "image \"ghcr.io/acme/api:1.4\": MARKED");
  }
  SUBCASE("not used where an override changes the rules' settings") {
    const auto user = of(evaluate_object(policy, yaml_object(deployment("legacy")), with_marked), "image-user");
    REQUIRE(user.size() == 2);
    CHECK(user[0].action == Action::kAudit);
    CHECK(!contains(user[0].message, "MARKED"));
  }
  SUBCASE("images all judged clean before: the image rules judge nothing again") {
    ImageJudgement clean_api = api_judged;
    ImageJudgement clean_proxy = proxy_judged;
    for (ImageJudgement* j : {&clean_api, &clean_proxy}) {
      for (auto& findings : j->by_rule) findings.clear();
      j->clean = true;
    }
    ImageJudgements all_clean;
    all_clean.add(kApi, api->facts.get(), &clean_api);
    all_clean.add(kProxy, proxy->facts.get(), &clean_proxy);
    EvalOptions options = plain;
    options.judged_images = &all_clean;
    REQUIRE(!of(evaluate_object(policy, yaml_object(deployment()), plain), "image-user").empty());
    CHECK(of(evaluate_object(policy, yaml_object(deployment()), options), "image-user").empty());
    // One image not judged before: the image rules run, judging it here
    // and taking the judgement where there is one.
    ImageJudgements one_clean;
    one_clean.add(kProxy, proxy->facts.get(), &clean_proxy);
    options.judged_images = &one_clean;
    const ObjectVerdict verdict = evaluate_object(policy, yaml_object(deployment()), options);
    const auto user = of(verdict, "image-user");
    REQUIRE(user.size() == 2);  // the init and app containers, which run api
    for (const Violation& v : verdict.violations) {
      CHECK_MESSAGE(!contains(v.message, kProxy), v.message);
    }
  }
  SUBCASE("judge_image says whether a judgement found anything") {
    CHECK(!api_judged.clean);  // USER unset: image-user
    const Result<ImageConfig> config = parse_image_config(
        R"({"os": "linux", "architecture": "amd64", "config": {"User": "1001:1001",
            "Healthcheck": {"Test": ["CMD", "/app/server", "healthcheck"]},
            "Labels": {"org.opencontainers.image.source": "https://github.com/acme/api",
                       "org.opencontainers.image.revision": "3f9c2ab",
                       "org.opencontainers.image.version": "1.4.2"}}})");
    REQUIRE(config.ok());
    const KnownImages passing = testing::known({{kProxy, testing::found({{"linux/amd64", *config}})}});
    const ImageJudgement judgement = judge_image(policy, kProxy, *passing.find(kProxy)->facts);
    for (const auto& findings : judgement.by_rule) {
      for (const auto& f : findings) INFO(f.message);
    }
    CHECK(judgement.clean);
  }
  SUBCASE("not used for other facts under the same reference (a tag that moved)") {
    const KnownImages moved = testing::known({{kApi, testing::found_user("")}});
    EvalOptions options;
    options.images = &moved;
    options.judged_images = &marked_judged;
    const auto user = of(evaluate_object(policy, yaml_object(deployment()), options), "image-user");
    REQUIRE(!user.empty());
    CHECK(!contains(user[0].message, "MARKED"));
  }
}

}  // namespace podguard

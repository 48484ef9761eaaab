#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>

#include "engine/policy/config.h"
#include "engine/policy/evaluate.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"

namespace podguard {
namespace {

using testing::yaml_object;

Policy config(const std::string& body) {
  ConfigLoad load = load_config("apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\n" + body, builtin_rules());
  REQUIRE_MESSAGE(load.policy, format_config_errors("test", load.errors));
  return std::move(*load.policy);
}

std::size_t count(const ObjectVerdict& v, std::string_view rule) {
  return static_cast<std::size_t>(
      std::count_if(v.violations.begin(), v.violations.end(), [rule](const Violation& x) { return x.rule == rule; }));
}

const Violation* first(const ObjectVerdict& v, std::string_view rule) {
  for (const Violation& x : v.violations) {
    if (x.rule == rule) return &x;
  }
  return nullptr;
}

bool exempted(const ObjectVerdict& v, std::string_view rule) {
  return std::any_of(v.exempted.begin(), v.exempted.end(), [rule](const AppliedExemption& e) { return e.rule == rule; });
}

const char* kLegacyJob = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: legacy-report, namespace: batch}
spec:
  template:
    spec:
      containers:
      - {name: app, image: "registry.k8s.io/pause:3.9"}
      - {name: istio-proxy, image: "istio/proxyv2:1.20"}
)";

}  // namespace

TEST_CASE("objects without a namespace take the default one; names fall back to generateName") {
  const Json pod = yaml_object("apiVersion: v1\nkind: Pod\nmetadata: {generateName: web-7d9f-}\nspec: {containers: []}");
  EvalOptions options;
  options.default_namespace = "shop";
  const ObjectVerdict v = evaluate_object(Policy::defaults(builtin_rules()), pod, options);
  CHECK(v.ns == "shop");
  CHECK(v.name == "web-7d9f-");
  CHECK(v.display_name() == "Pod shop/web-7d9f-");
  CHECK(v.checked);
}

TEST_CASE("other kinds are skipped, not errors") {
  const ObjectVerdict v = evaluate_object(Policy::defaults(builtin_rules()), yaml_object("apiVersion: v1\nkind: Service\nmetadata: {name: s}"), {});
  CHECK_FALSE(v.checked);
  CHECK(v.violations.empty());
  CHECK(v.worst() == Action::kOff);
}

TEST_CASE("Lists are evaluated item by item with their position in the document") {
  const Json list = yaml_object(R"(
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
- apiVersion: v1
  kind: List
  items:
  - {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {hostPID: true, containers: []}}
)");
  const auto verdicts = evaluate_document(Policy::defaults(builtin_rules()), list, {});
  REQUIRE(verdicts.size() == 2);
  CHECK_FALSE(verdicts[0].checked);
  CHECK(verdicts[0].root.str() == "items[0]");
  CHECK(verdicts[1].root.str() == "items[1].items[0]");
  CHECK(count(verdicts[1], "host-namespaces") == 1);
  CHECK(verdicts[1].violations.at(0).path.str() == "spec.hostPID");  // from the object's own root
}

TEST_CASE("namespace overrides change actions and parameters for matching namespaces") {
  const Policy p = config(R"(
overrides:
- namespaces: ["dev-*"]
  rules:
    termination-grace-period: {action: warn, minSeconds: 10}
- namespaces: [dev-loose]
  rules: {termination-grace-period: off}
)");
  auto eval = [&](const std::string& ns) {
    return evaluate_object(p,
                           yaml_object("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: " + ns +
                                       "}\nspec: {terminationGracePeriodSeconds: 20, containers: []}"),
                           {});
  };
  const ObjectVerdict prod = eval("prod");
  REQUIRE(count(prod, "termination-grace-period") == 1);
  CHECK(prod.violations[0].action == Action::kDeny);
  CHECK(count(eval("dev-a"), "termination-grace-period") == 0);  // minSeconds 10 there
  CHECK(count(eval("dev-loose"), "termination-grace-period") == 0);
}

TEST_CASE("config exemptions") {
  const Json obj = yaml_object(kLegacyJob);
  SUBCASE("by rule, namespace and name") {
    const Policy p = config(R"(
exemptions:
- rules: [probes-required]
  namespaces: [batch]
  names: ["legacy-*"]
  reason: "legacy batch images, removal tracked in OPS-42"
)");
    const ObjectVerdict v = evaluate_object(p, obj, {});
    CHECK(count(v, "probes-required") == 0);
    CHECK(exempted(v, "probes-required"));
    CHECK(v.exempted.size() == 2);  // one per container
    CHECK(v.exempted[0].reason == "legacy batch images, removal tracked in OPS-42");
    CHECK(v.exempted[0].source == "config");
    CHECK(v.exempted[0].action == Action::kDeny);
    CHECK(count(v, "read-only-root-filesystem") == 2);  // other rules still apply
  }
  SUBCASE("names that do not match leave the object alone") {
    const Policy p = config("exemptions:\n- {names: [other], reason: r}\n");
    CHECK(count(evaluate_object(p, obj, {}), "probes-required") == 2);
  }
  SUBCASE("by container: only that container's findings, never pod-level ones") {
    const Policy p = config("exemptions:\n- {containers: [istio-proxy], reason: mesh sidecar}\n");
    const ObjectVerdict v = evaluate_object(p, obj, {});
    for (const Violation& x : v.violations) CHECK(x.container != std::optional<std::string>("istio-proxy"));
    CHECK(count(v, "probes-required") == 1);
    const Json pod = yaml_object("kind: Pod\nspec: {hostIPC: true, containers: [{name: istio-proxy}]}");
    CHECK(count(evaluate_object(p, pod, {}), "host-namespaces") == 1);
  }
  SUBCASE("by image glob") {
    const Policy p = config("exemptions:\n- {rules: [read-only-root-filesystem], images: [\"registry.k8s.io/pause:*\"], reason: pause}\n");
    const ObjectVerdict v = evaluate_object(p, obj, {});
    REQUIRE(count(v, "read-only-root-filesystem") == 1);
    CHECK(first(v, "read-only-root-filesystem")->container == "istio-proxy");
  }
  SUBCASE("an expired exemption stops applying the day after its date") {
    const Policy p = config("exemptions:\n- {namespaces: [batch], reason: r, expires: 2027-03-31}\n");
    EvalOptions options;
    options.today = *parse_day("2027-03-31");
    CHECK(evaluate_object(p, obj, options).violations.empty());
    options.today = *parse_day("2027-04-01");
    CHECK_FALSE(evaluate_object(p, obj, options).violations.empty());
  }
}

TEST_CASE("annotation exemptions") {
  auto object = [&](const std::string& outer, const std::string& inner) {
    return yaml_object("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations: " + outer +
                       "\nspec:\n  template:\n    metadata:\n      annotations: " + inner +
                       "\n    spec:\n      containers: [{name: app, image: \"nginx:1.25\"}]\n");
  };
  const char* with_reason =
      "{podguard.io/exempt: \"probes-required, read-only-root-filesystem\", podguard.io/exempt-reason: \"migration, OPS-7\"}";
  SUBCASE("on the object") {
    const ObjectVerdict v = evaluate_object(Policy::defaults(builtin_rules()), object(with_reason, "{}"), {});
    CHECK(count(v, "probes-required") == 0);
    CHECK(count(v, "read-only-root-filesystem") == 0);
    CHECK(count(v, "run-as-non-root") == 1);
    CHECK(exempted(v, "probes-required"));
    CHECK(v.exempted[0].source == "annotation");
    CHECK(v.exempted[0].reason == "migration, OPS-7");
  }
  SUBCASE("on the pod template, which the controller's pods carry") {
    const ObjectVerdict v = evaluate_object(Policy::defaults(builtin_rules()), object("{}", with_reason), {});
    CHECK(count(v, "probes-required") == 0);
  }
  SUBCASE("on both: each is honoured with its own reason, so the workload is decided like its Pods") {
    const char* outer = "{podguard.io/exempt: probes-required, podguard.io/exempt-reason: \"outer reason\"}";
    const char* inner = "{podguard.io/exempt: \"run-as-non-root, probes-required\", podguard.io/exempt-reason: inner}";
    const ObjectVerdict v = evaluate_object(Policy::defaults(builtin_rules()), object(outer, inner), {});
    CHECK(count(v, "probes-required") == 0);
    CHECK(count(v, "run-as-non-root") == 0);
    CHECK(count(v, "read-only-root-filesystem") == 1);
    std::map<std::string, std::string> reasons;
    for (const AppliedExemption& e : v.exempted) reasons[e.rule] = e.reason;
    CHECK(reasons["probes-required"] == "outer reason");  // the first to name it
    CHECK(reasons["run-as-non-root"] == "inner");
    // A Pod the Deployment creates carries the template's annotations only.
    const ObjectVerdict pod = evaluate_object(
        Policy::defaults(builtin_rules()),
        yaml_object(std::string("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-1\n  annotations: ") + inner +
                    "\nspec:\n  containers: [{name: app, image: \"nginx:1.25\"}]\n"),
        {});
    CHECK(count(pod, "probes-required") == 0);
    CHECK(count(pod, "run-as-non-root") == 0);
    CHECK(count(pod, "read-only-root-filesystem") == 1);
  }
  SUBCASE("one without a reason is ignored with a note; the other still applies") {
    const ObjectVerdict v = evaluate_object(
        Policy::defaults(builtin_rules()),
        object("{podguard.io/exempt: run-as-non-root}", "{podguard.io/exempt: probes-required, podguard.io/exempt-reason: r}"),
        {});
    CHECK(count(v, "run-as-non-root") == 1);
    CHECK(count(v, "probes-required") == 0);
    REQUIRE(v.notes.size() == 1);
    CHECK(v.notes[0].find("podguard.io/exempt-reason") != std::string::npos);
  }
  SUBCASE("without a reason it is ignored, with a note") {
    const ObjectVerdict v =
        evaluate_object(Policy::defaults(builtin_rules()), object("{podguard.io/exempt: probes-required}", "{}"), {});
    CHECK(count(v, "probes-required") == 1);
    REQUIRE(v.notes.size() == 1);
    CHECK(v.notes[0].find("podguard.io/exempt-reason") != std::string::npos);
  }
  SUBCASE("unknown rule ids are named in a note") {
    const ObjectVerdict v = evaluate_object(
        Policy::defaults(builtin_rules()),
        object("{podguard.io/exempt: \"probes-requried\", podguard.io/exempt-reason: typo}", "{}"), {});
    CHECK(count(v, "probes-required") == 1);
    REQUIRE(v.notes.size() == 1);
    CHECK(v.notes[0].find("probes-requried") != std::string::npos);
  }
  SUBCASE("ignored when the policy disallows them") {
    const Policy p = config("allowAnnotationExemptions: false\n");
    const ObjectVerdict v = evaluate_object(p, object(with_reason, "{}"), {});
    CHECK(count(v, "probes-required") == 1);
    CHECK(v.notes.size() == 1);
  }
}

TEST_CASE("audit and warn actions are reported with their action") {
  const Policy p = config("rules:\n  host-namespaces: audit\n  run-as-non-root: warn\n");
  const ObjectVerdict v = evaluate_object(p, yaml_object("kind: Pod\nspec: {hostNetwork: true, containers: [{name: a}]}"), {});
  bool audit = false, warn = false;
  for (const Violation& x : v.violations) {
    if (x.rule == "host-namespaces") audit = x.action == Action::kAudit;
    if (x.rule == "run-as-non-root") warn = x.action == Action::kWarn;
  }
  CHECK(audit);
  CHECK(warn);
}

TEST_CASE("a field of the wrong type makes the object invalid, as the API server would reject it") {
  const auto invalid = [](const std::string& spec) {
    const ObjectVerdict v = evaluate_object(
        Policy::defaults(builtin_rules()),
        yaml_object("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n    spec:\n" + spec),
        {});
    CHECK(v.checked);
    if (!v.invalid.empty()) CHECK(v.violations.empty());  // no rule judges it
    std::vector<std::string> out;
    for (const FieldTypeError& e : v.invalid) {
      CHECK(e.status.is(StatusCode::kInvalidInput));
      CHECK(e.status.key() == e.path.str());
      out.push_back(e.path.str() + ": " + e.status.message());
    }
    return out;
  };
  const std::string c = "      containers:\n      - name: app\n        image: \"nginx:1.25\"\n";
  auto one = [&](const std::string& spec) {
    const auto errors = invalid(spec);
    REQUIRE(errors.size() == 1);
    return errors[0];
  };
  CHECK(one(c + "        securityContext: {privileged: \"true\"}\n") ==
        "spec.template.spec.containers[0].securityContext.privileged: expected a boolean (true or false), got the "
        "string \"true\": the API server rejects this Deployment; write it without quotes");
  CHECK(one("      securityContext: {runAsUser: \"0\"}\n" + c) ==
        "spec.template.spec.securityContext.runAsUser: expected an integer, got the string \"0\": the API server "
        "rejects this Deployment; write it without quotes");
  CHECK(one(c + "        env: [{name: PORT, value: 8080}]\n") ==
        "spec.template.spec.containers[0].env[0].value: expected a string, got the number 8080: the API server "
        "rejects this Deployment; quote it: \"8080\"");
  CHECK(one("      containers: [{name: app, image: 1.25}]\n").find("spec.template.spec.containers[0].image: expected a string, got the "
                                                                  "number 1.25") == 0);
  CHECK(one(c + "        ports: [{containerPort: 3000000000}]\n").find("does not fit in 32 bits") != std::string::npos);
  CHECK(one(c + "        readinessProbe: {httpGet: {port: true}}\n").find("expected a port number or name") !=
        std::string::npos);
  CHECK(one("      hostNetwork: \"false\"\n" + c).find("spec.template.spec.hostNetwork: expected a boolean") == 0);
  CHECK(one("      terminationGracePeriodSeconds: 29.5\n" + c)
            .find("terminationGracePeriodSeconds: expected an integer, got the number 29.5") != std::string::npos);
  // Labels and annotations are maps of strings: YAML's unquoted yes is a boolean.
  const ObjectVerdict labels = evaluate_object(
      Policy::defaults(builtin_rules()),
      yaml_object("apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {canary: yes}}\nspec:\n  containers: "
                  "[{name: app, image: \"nginx:1.25\"}]\n"),
      {});
  REQUIRE(labels.invalid.size() == 1);
  CHECK(labels.invalid[0].path.str() == "metadata.labels.canary");
  CHECK(invalid(c + "        env: [{name: A, value: \"1\"}]\n").empty());
  // What the API server does take: integral floats (kubectl sends them as
  // integers), ports by name, quantities as numbers, nulls.
  CHECK(invalid("      terminationGracePeriodSeconds: 30.0\n      activeDeadlineSeconds: 1e+06\n" + c +
                "        ports: [{containerPort: 8080.0, name: http}]\n"
                "        readinessProbe: {httpGet: {port: http}, periodSeconds: 5}\n"
                "        resources: {limits: {cpu: 1, memory: 1e9}, requests: {cpu: 0.5}}\n"
                "        securityContext: {runAsUser: null, privileged: ~}\n")
            .empty());
  // Several at once, each reported.
  CHECK(invalid("      hostPID: \"no\"\n" + c + "        securityContext: {runAsNonRoot: \"true\", runAsUser: \"1001\"}\n")
            .size() == 3);
}

TEST_CASE("integral floats are judged as the integers the API server receives") {
  const ObjectVerdict v = evaluate_object(
      Policy::defaults(builtin_rules()),
      yaml_object("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  terminationGracePeriodSeconds: 10.0\n"
                  "  securityContext: {runAsUser: 0.0}\n  containers: [{name: app, image: \"nginx:1.25\"}]\n"),
      {});
  CHECK(v.invalid.empty());
  CHECK(count(v, "run-as-non-root") == 1);           // 0.0 is root
  CHECK(count(v, "termination-grace-period") == 1);  // 10.0 is under 30
}

}  // namespace podguard

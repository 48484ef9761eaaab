// The edge cases DESIGN.md calls out, where other tools have burned users.
// Broader per-rule coverage lives in tests/fixtures/<rule>/.
#include <doctest/doctest.h>

#include <string>

#include "engine/policy/evaluate.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"

namespace podguard {
namespace {

using testing::yaml_object;

// Violations of one rule, with only that rule on.
std::vector<Violation> run(std::string_view rule, const std::string& yaml, const Json& params = Json::object()) {
  Policy p = Policy::defaults(builtin_rules());
  const std::size_t index = builtin_rules().index_of(rule).value();
  for (auto& s : p.rules) s.action = Action::kOff;
  p.rules[index].action = Action::kDeny;
  for (const auto& [k, v] : params.items()) p.rules[index].params[k] = v;
  std::vector<Violation> out;
  for (ObjectVerdict& v : evaluate_document(p, yaml_object(yaml), {})) {
    for (Violation& x : v.violations) out.push_back(std::move(x));
  }
  return out;
}

std::string pod(const std::string& spec) { return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n" + spec; }

}  // namespace

TEST_CASE("run-as-non-root") {
  SUBCASE("pod-level runAsNonRoot with containers unset passes (no false positive)") {
    CHECK(run("run-as-non-root", pod("  securityContext: {runAsNonRoot: true}\n"
                                     "  initContainers: [{name: init}]\n"
                                     "  containers: [{name: app}, {name: side}]\n"))
              .empty());
  }
  SUBCASE("an init container with UID 0 fails, and the message says so") {
    auto v = run("run-as-non-root", pod("  securityContext: {runAsNonRoot: true, runAsUser: 1001}\n"
                                        "  initContainers: [{name: init, securityContext: {runAsUser: 0}}]\n"
                                        "  containers: [{name: app}]\n"));
    REQUIRE(v.size() == 1);
    CHECK(v[0].container == "init");
    CHECK(v[0].path.str() == "spec.initContainers[0].securityContext.runAsUser");
    CHECK(v[0].message.find("runAsUser is 0") == 0);
  }
  SUBCASE("runAsNonRoot: false where it takes effect fails even with a non-zero UID") {
    auto v = run("run-as-non-root", pod("  securityContext: {runAsNonRoot: false}\n"
                                        "  containers: [{name: app, securityContext: {runAsUser: 1001}}]\n"));
    REQUIRE(v.size() == 1);
    CHECK(v[0].path.str() == "spec.securityContext.runAsNonRoot");
    CHECK(v[0].message.find("runAsNonRoot is false in the pod securityContext") == 0);
  }
  SUBCASE("a pod-level false overridden by the container does not take effect") {
    CHECK(run("run-as-non-root", pod("  securityContext: {runAsNonRoot: false}\n"
                                     "  containers: [{name: app, securityContext: {runAsNonRoot: true}}]\n"))
              .empty());
  }
  SUBCASE("nothing set fails with a message on what to set") {
    auto v = run("run-as-non-root", pod("  containers: [{name: app}]\n"));
    REQUIRE(v.size() == 1);
    CHECK(v[0].message.find("neither runAsUser nor runAsNonRoot is set") == 0);
    CHECK(v[0].message.find("runAsNonRoot: true") != std::string::npos);
  }
  SUBCASE("ephemeral containers inherit the pod's root UID") {
    auto v = run("run-as-non-root", pod("  securityContext: {runAsUser: 0}\n"
                                        "  containers: [{name: app, securityContext: {runAsUser: 1001}}]\n"
                                        "  ephemeralContainers: [{name: debug}]\n"));
    REQUIRE(v.size() == 1);
    CHECK(v[0].container == "debug");
    CHECK(v[0].path.str() == "spec.securityContext.runAsUser");
  }
  SUBCASE("minUid") {
    const std::string spec = pod("  containers: [{name: app, securityContext: {runAsUser: 500, runAsNonRoot: true}}]\n");
    CHECK(run("run-as-non-root", spec).empty());
    auto v = run("run-as-non-root", spec, {{"minUid", 1000}});
    REQUIRE(v.size() == 1);
    CHECK(v[0].message.find("below the minimum UID 1000") != std::string::npos);
  }
}

TEST_CASE("probes-required") {
  const std::string no_probes = "      containers: [{name: app, image: app:1}]\n";
  SUBCASE("Jobs and CronJobs are not asked for probes") {
    CHECK(run("probes-required", "apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n" + no_probes).empty());
    CHECK(run("probes-required",
              "apiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n"
              "          containers: [{name: app}]\n")
              .empty());
    CHECK(run("probes-required", pod("  restartPolicy: OnFailure\n  containers: [{name: app}]\n")).empty());
  }
  SUBCASE("Deployments and bare Pods are") {
    CHECK(run("probes-required", "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n" + no_probes)
              .size() == 1);
    CHECK(run("probes-required", pod("  containers: [{name: app}]\n")).size() == 1);
  }
  SUBCASE("a startupProbe alone fails") {
    auto v = run("probes-required",
                 pod("  containers: [{name: app, startupProbe: {httpGet: {path: /api/v1/health, port: 8000}}}]\n"));
    REQUIRE(v.size() == 1);
    CHECK(v[0].message.find("a startupProbe does not replace them") != std::string::npos);
  }
  SUBCASE("a probe without a handler does not count") {
    auto v = run("probes-required",
                 pod("  containers: [{name: app, livenessProbe: {periodSeconds: 5}, readinessProbe: {tcpSocket: {port: 8000}}}]\n"));
    REQUIRE(v.size() == 1);
    CHECK(v[0].path.str() == "spec.containers[0].livenessProbe");
    CHECK(v[0].message.find("has no handler") != std::string::npos);
  }
  SUBCASE("native sidecars only with includeSidecars") {
    const std::string spec = pod(
        "  initContainers: [{name: proxy, restartPolicy: Always}]\n"
        "  containers: [{name: app, livenessProbe: {grpc: {port: 9000}}, readinessProbe: {exec: {command: [\"true\"]}}}]\n");
    CHECK(run("probes-required", spec).empty());
    CHECK(run("probes-required", spec, {{"includeSidecars", true}}).size() == 1);
  }
}

TEST_CASE("termination-grace-period") {
  SUBCASE("unset is the Kubernetes default, 30") {
    CHECK(run("termination-grace-period", pod("  containers: [{name: app}]\n")).empty());
    auto v = run("termination-grace-period", pod("  containers: [{name: app}]\n"), {{"minSeconds", 45}});
    REQUIRE(v.size() == 1);
    CHECK(v[0].message.find("not set, so Kubernetes uses 30") != std::string::npos);
    CHECK_FALSE(v[0].container);
  }
  SUBCASE("below the minimum fails") {
    auto v = run("termination-grace-period", pod("  terminationGracePeriodSeconds: 10\n  containers: [{name: app}]\n"));
    REQUIRE(v.size() == 1);
    CHECK(v[0].path.str() == "spec.terminationGracePeriodSeconds");
  }
  SUBCASE("a preStop hook that sleeps through the grace period fails") {
    CHECK(run("termination-grace-period",
              pod("  containers: [{name: app, lifecycle: {preStop: {sleep: {seconds: 30}}}}]\n"))
              .size() == 1);
    CHECK(run("termination-grace-period",
              pod("  terminationGracePeriodSeconds: 60\n"
                  "  containers: [{name: app, lifecycle: {preStop: {exec: {command: [sh, -c, \"sleep 40; sleep 25\"]}}}}]\n"))
              .size() == 1);
    CHECK(run("termination-grace-period",
              pod("  containers: [{name: app, lifecycle: {preStop: {exec: {command: [/bin/sleep, 1m]}}}}]\n"))
              .size() == 1);
    CHECK(run("termination-grace-period",
              pod("  containers: [{name: app, lifecycle: {preStop: {exec: {command: [sleep, \"5\"]}}}}]\n"))
              .empty());
  }
}

TEST_CASE("image-pinned") {
  auto image = [](const std::string& ref, const Json& params = Json::object()) {
    return run("image-pinned", pod("  containers: [{name: app, image: \"" + ref + "\"}]\n"), params);
  };
  CHECK(image("registry:5000/app").size() == 1);
  CHECK(image("registry:5000/app")[0].message.find("has no tag") != std::string::npos);
  CHECK(image("registry:5000/app:1.4.2").empty());
  CHECK(image("app:latest").size() == 1);
  CHECK(image("app:Latest").size() == 1);
  CHECK(image("app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").empty());
  CHECK(image("app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").empty());
  CHECK(image("app:1.2", {{"requireDigest", true}}).size() == 1);
  CHECK(image("app:1.2", {{"disallowedTags", {"latest", "*-SNAPSHOT"}}}).empty());
  CHECK(image("app:1.2-snapshot", {{"disallowedTags", {"latest", "*-SNAPSHOT"}}}).size() == 1);
  CHECK(image("ghcr.io/acme/api:3f9c2ab", {{"allowedRegistries", {"ghcr.io"}}}).empty());
  CHECK(image("nginx:1.25", {{"allowedRegistries", {"ghcr.io"}}}).size() == 1);
  CHECK(image("ghcr.io/other/api:1", {{"allowedRegistries", {"ghcr.io/acme/*"}}}).size() == 1);
}

TEST_CASE("no-secret-literals") {
  auto env = [](const std::string& name, const std::string& value) {
    return run("no-secret-literals",
               pod("  containers: [{name: app, env: [{name: " + name + ", value: \"" + value + "\"}]}]\n"));
  };
  CHECK(env("JWT_EXPIRY_SECONDS", "3600").empty());
  auto v = env("JWT_SECRET_KEY", "s3cr3t-value-do-not-echo");
  REQUIRE(v.size() == 1);
  CHECK(v[0].path.str() == "spec.containers[0].env[0].value");
  CHECK(v[0].message.find("s3cr3t") == std::string::npos);  // the value is never echoed
  CHECK(v[0].message.find("JWT_SECRET_KEY") != std::string::npos);
  CHECK(env("DB_PASSWORD", "").empty());
  CHECK(env("DB_PASSWORD", "$(VAULT_DB_PASSWORD)").empty());
  CHECK(env("DB_PASSWORD_FILE", "/run/secrets/db").empty());
  CHECK(env("BOOTSTRAP", "AKIAIOSFODNN7EXAMPLE").size() == 1);
  CHECK(run("no-secret-literals",
            pod("  containers: [{name: app, env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: p}}}]}]\n"))
            .empty());
}

TEST_CASE("host-namespaces reports each namespace at pod level") {
  auto v = run("host-namespaces", pod("  hostNetwork: true\n  hostPID: true\n  hostIPC: false\n  containers: []\n"));
  REQUIRE(v.size() == 2);
  CHECK_FALSE(v[0].container);
  CHECK(v[0].path.str() == "spec.hostNetwork");
  CHECK(v[1].path.str() == "spec.hostPID");
}

TEST_CASE("Windows pods are not asked for Linux-only settings") {
  const std::string windows = pod("  os: {name: windows}\n  containers: [{name: app}]\n");
  for (const char* rule : {"read-only-root-filesystem", "no-privilege-escalation", "drop-all-capabilities",
                           "seccomp-runtime-default"}) {
    INFO(rule);
    CHECK(run(rule, windows).empty());
    CHECK(run(rule, pod("  containers: [{name: app}]\n")).size() == 1);
  }
}

TEST_CASE("resources-required accepts pod-level resources") {
  CHECK(run("resources-required", pod("  resources: {requests: {cpu: 1, memory: 1Gi}, limits: {memory: 1Gi}}\n"
                                       "  containers: [{name: a}, {name: b}]\n"))
            .empty());
  auto v = run("resources-required", pod("  containers: [{name: a, resources: {requests: {cpu: 100m}}}]\n"));
  REQUIRE(v.size() == 1);
  CHECK(v[0].message.find("resources lack requests.memory, limits.memory") == 0);
}

TEST_CASE("privileged-port only asks non-root containers") {
  CHECK(run("privileged-port", pod("  securityContext: {runAsUser: 1001}\n"
                                   "  containers: [{name: a, ports: [{containerPort: 80}, {containerPort: 8000}]}]\n"))
            .size() == 1);
  CHECK(run("privileged-port", pod("  containers: [{name: a, ports: [{containerPort: 80}]}]\n")).empty());
  CHECK(run("privileged-port", pod("  securityContext: {runAsNonRoot: true}\n"
                                   "  containers: [{name: a, ports: [{containerPort: 443}],"
                                   " securityContext: {capabilities: {add: [NET_BIND_SERVICE]}}}]\n"))
            .empty());
}

}  // namespace podguard

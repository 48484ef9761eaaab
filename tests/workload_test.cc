#include <doctest/doctest.h>

#include "engine/reading/json_access.h"
#include "engine/policy/rule.h"
#include "engine/facts/workload.h"
#include "fixture_files.h"

namespace podguard {

using testing::yaml_object;

TEST_CASE("the pod spec is found in every workload kind") {
  struct Case {
    const char* yaml;
    const char* spec_path;
    bool long_running;
  };
  const Case cases[] = {
      {"apiVersion: v1\nkind: Pod\nspec: {containers: [{name: a}]}", "spec", true},
      {"apiVersion: v1\nkind: Pod\nspec: {restartPolicy: Never, containers: [{name: a}]}", "spec", false},
      {"apiVersion: v1\nkind: Pod\nmetadata: {ownerReferences: [{kind: Job, name: j}]}\nspec: {containers: [{name: a}]}",
       "spec", false},
      {"apiVersion: v1\nkind: PodTemplate\ntemplate: {spec: {containers: [{name: a}]}}", "template.spec", true},
      {"apiVersion: v1\nkind: ReplicationController\nspec: {template: {spec: {containers: [{name: a}]}}}",
       "spec.template.spec", true},
      {"apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: a}]}}}",
       "spec.template.spec", true},
      {"apiVersion: extensions/v1beta1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: a}]}}}",
       "spec.template.spec", true},
      {"apiVersion: apps/v1\nkind: StatefulSet\nspec: {template: {spec: {containers: [{name: a}]}}}",
       "spec.template.spec", true},
      {"apiVersion: apps/v1\nkind: DaemonSet\nspec: {template: {spec: {containers: [{name: a}]}}}",
       "spec.template.spec", true},
      {"apiVersion: apps/v1\nkind: ReplicaSet\nspec: {template: {spec: {containers: [{name: a}]}}}",
       "spec.template.spec", true},
      {"apiVersion: batch/v1\nkind: Job\nspec: {template: {spec: {containers: [{name: a}]}}}", "spec.template.spec",
       false},
      {"apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: [{name: a}]}}}}}",
       "spec.jobTemplate.spec.template.spec", false},
  };
  for (const Case& c : cases) {
    INFO(c.yaml);
    const Json obj = yaml_object(c.yaml);
    auto pod = find_pod(obj);
    REQUIRE(pod);
    CHECK(pod->spec_path().str() == c.spec_path);
    CHECK(pod->long_running() == c.long_running);
    REQUIRE(pod->containers().size() == 1);
    CHECK(pod->containers()[0].name == "a");
    CHECK(pod->container_path(pod->containers()[0]).str() == std::string(c.spec_path) + ".containers[0]");
  }
}

TEST_CASE("kinds without a pod spec, and look-alike CRDs, are not workloads") {
  for (const char* yaml : {"apiVersion: v1\nkind: Service\nspec: {}", "apiVersion: v1\nkind: ConfigMap",
                           "apiVersion: batch.volcano.sh/v1alpha1\nkind: Job\nspec: {tasks: []}",
                           "apiVersion: example.com/v1\nkind: Deployment\nspec: {}", "just a string", "[1, 2]"}) {
    INFO(yaml);
    CHECK_FALSE(find_pod(yaml_object(yaml)));
  }
}

TEST_CASE("a workload without a template still evaluates as an empty pod") {
  const Json obj = yaml_object("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 2}");
  auto pod = find_pod(obj);
  REQUIRE(pod);
  CHECK(pod->containers().empty());
  CHECK(pod->spec().is_object());
}

TEST_CASE("containers come from all three lists with their kinds, and sidecars are marked") {
  const Json obj = yaml_object(R"(
apiVersion: v1
kind: Pod
spec:
  initContainers: [{name: init}, {name: side, restartPolicy: Always}, "not a container"]
  containers: [{name: app}]
  ephemeralContainers: [{name: debug}]
)");
  auto pod = find_pod(obj);
  REQUIRE(pod);
  const auto& cs = pod->containers();
  REQUIRE(cs.size() == 4);
  CHECK(cs[0].kind == ContainerKind::kInit);
  CHECK_FALSE(cs[0].sidecar);
  CHECK(cs[1].sidecar);
  CHECK(cs[2].kind == ContainerKind::kRegular);
  CHECK(cs[3].kind == ContainerKind::kEphemeral);
  CHECK(pod->container_path(cs[3]).str() == "spec.ephemeralContainers[0]");
  CHECK(describe(cs[1]) == "sidecar container \"side\"");
}

TEST_CASE("workload_images: each image once, in container order, as the pod's containers name them") {
  const Json deployment = yaml_object(R"(
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers: [{name: init, image: "ghcr.io/acme/api:1.4"}, "not a container", {name: no-image}]
      containers:
      - {name: app, image: "ghcr.io/acme/api:1.4"}
      - {name: proxy, image: "envoyproxy/envoy:v1.31"}
      - {name: odd, image: 42}
      ephemeralContainers: [{name: debug, image: busybox}]
)");
  CHECK(workload_images(deployment) ==
        std::vector<std::string_view>{"ghcr.io/acme/api:1.4", "envoyproxy/envoy:v1.31", "busybox"});
  // Each container's image, as PodView reads it, is among them.
  const auto pod = find_pod(deployment);
  REQUIRE(pod);
  REQUIRE(pod->containers().size() == 6);  // init, no-image, app, proxy, odd, debug
  CHECK(pod->containers()[2].image == "ghcr.io/acme/api:1.4");
  CHECK(pod->containers()[4].image.empty());  // not a string

  const Json cronjob = yaml_object(
      "apiVersion: batch/v1\nkind: CronJob\nspec: {jobTemplate: {spec: {template: {spec: {containers: "
      "[{name: a, image: 'app:1'}]}}}}}");
  CHECK(workload_images(cronjob) == std::vector<std::string_view>{"app:1"});
  // No pod spec, no images: other kinds, look-alike CRDs, a template without a spec.
  CHECK(workload_images(yaml_object("apiVersion: v1\nkind: ConfigMap\ndata: {image: 'app:1'}")).empty());
  CHECK(workload_images(yaml_object("apiVersion: example.com/v1\nkind: Job\nspec: {template: {spec: {containers: "
                                    "[{name: a, image: 'app:1'}]}}}"))
            .empty());
  CHECK(workload_images(yaml_object("apiVersion: apps/v1\nkind: Deployment\nspec: {template: {}}")).empty());
}

TEST_CASE("effective securityContext values: the container overrides the pod") {
  const Json obj = yaml_object(R"(
kind: Pod
spec:
  securityContext: {runAsUser: 1001, seccompProfile: {type: RuntimeDefault}, windowsOptions: {hostProcess: true}}
  containers:
  - name: inherits
  - name: overrides
    securityContext: {runAsUser: 2000, seccompProfile: {type: Localhost}, windowsOptions: {runAsUserName: x}}
  - name: explicit-null
    securityContext: {runAsUser: null}
)");
  auto pod = find_pod(obj);
  REQUIRE(pod);
  const auto& cs = pod->containers();
  const Effective a = pod->effective(cs[0], {"runAsUser"});
  CHECK(a.origin == Origin::kPod);
  CHECK(json::as_int(a.value) == 1001);
  CHECK(pod->effective_path(cs[0], a.origin, {"runAsUser"}).str() == "spec.securityContext.runAsUser");
  const Effective b = pod->effective(cs[1], {"runAsUser"});
  CHECK(b.origin == Origin::kContainer);
  CHECK(json::as_int(b.value) == 2000);
  CHECK(pod->effective_path(cs[1], b.origin, {"runAsUser"}).str() == "spec.containers[1].securityContext.runAsUser");
  // Field-by-field for windowsOptions: hostProcess still comes from the pod.
  CHECK(pod->effective(cs[1], {"windowsOptions", "hostProcess"}).origin == Origin::kPod);
  CHECK(pod->effective(cs[2], {"runAsUser"}).origin == Origin::kPod);
  CHECK(pod->effective(cs[0], {"runAsGroup"}).origin == Origin::kUnset);
}

TEST_CASE("Lists are recognised by kind and items") {
  CHECK(is_list(yaml_object("kind: List\nitems: []")));
  CHECK(is_list(yaml_object("kind: DeploymentList\nitems: [{kind: Deployment}]")));
  CHECK_FALSE(is_list(yaml_object("kind: List")));
  CHECK_FALSE(is_list(yaml_object("kind: Playlist\nitems: {}")));
}

}  // namespace podguard

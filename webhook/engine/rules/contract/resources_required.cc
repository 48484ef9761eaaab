// resources-required: containers declare what they need and cap their
// memory.
//
// Reads resources.requests.cpu, resources.requests.memory and
// resources.limits.memory of spec.containers and spec.initContainers
// (ephemeral containers cannot have resources). Each is also satisfied by
// the pod-level spec.resources (Kubernetes pod-level resources). For a Pod
// (not a template), a missing request defaults to its limit, as the API
// server does before admission, so `check` and the webhook agree. Fails when
// any of the three is missing.
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

bool has_quantity(const Json* resources, std::string_view kind, std::string_view name) {
  const Json* q = json::field(json::field(resources, kind), name);
  return q != nullptr && !q->is_null() && !(q->is_string() && q->get_ref<const JsonString&>().empty());
}

// A request is also met by a limit on a Pod: the API server copies limits
// into missing requests when it creates a Pod (not for pod templates).
bool has(const Json* resources, bool limit_defaults_request, std::string_view kind, std::string_view name) {
  if (has_quantity(resources, kind, name)) return true;
  return limit_defaults_request && kind == "requests" && has_quantity(resources, "limits", name);
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const Json* pod_resources = json::field(&pod.spec(), "resources");
  const bool is_pod = pod.kind() == "Pod";
  struct Need {
    std::string_view kind;
    std::string_view name;
  };
  for (const ContainerView& c : pod.containers()) {
    if (c.kind == ContainerKind::kEphemeral) continue;
    const Json* resources = json::field(c.spec, "resources");
    std::string missing;
    for (const Need& n : {Need{"requests", "cpu"}, Need{"requests", "memory"}, Need{"limits", "memory"}}) {
      if (has(resources, is_pod, n.kind, n.name) || has(pod_resources, is_pod, n.kind, n.name)) continue;
      missing += (missing.empty() ? "" : ", ") + std::string(n.kind) + "." + std::string(n.name);
    }
    if (missing.empty()) continue;
    out.add(
        &c, [&] { return pod.container_path(c).key("resources"); },
        [&] {
          return "resources lack " + missing +
                 "; set e.g. requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}";
        });
  }
}

}  // namespace

const Rule& resources_required() {
  static const Rule kRule{
      .doc =
          {
              .id = "resources-required",
              .summary = "A container without cpu request, memory request and memory limit.",
              .description =
                  "Checks resources.requests.cpu, resources.requests.memory and resources.limits.memory on every "
                  "container and init container (ephemeral containers cannot declare resources). A value set in "
                  "the pod-level spec.resources also counts, and in a Pod (not a pod template) a limit stands in "
                  "for a missing request, since the API server copies it over before admission. A CPU limit is "
                  "not required.",
              .rationale =
                  "Without requests the scheduler packs pods blindly and the pod is first to be evicted; without "
                  "a memory limit one leak can push the whole node into out-of-memory kills.",
              .remediation =
                  "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory from "
                  "observed usage, e.g. requests {cpu: 100m, memory: 128Mi}, limits {memory: 256Mi}.",
          },
      .contract_action = Action::kWarn,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

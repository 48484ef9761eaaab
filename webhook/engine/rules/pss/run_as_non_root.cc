// pss.runAsNonRoot (restricted): containers not required to run as non-root.
//
// Reads:  spec.hostUsers, spec.securityContext.runAsNonRoot, and
//         securityContext.runAsNonRoot of every container (init, regular,
//         ephemeral). runAsUser is not read (pss.runAsUser covers it).
// Allows: runAsNonRoot true on the container, or unset on the container and
//         true on the pod. An explicit false at either level is denied (a
//         pod-level false even when every container sets true). Pods with
//         spec.hostUsers false (user namespaces) are not checked.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::string_view kReason = "runAsNonRoot != true";

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const auto host_users = json::as_bool(json::field(&pod.spec(), "hostUsers"));
  if (host_users && !*host_users) return;

  const auto pod_value = json::as_bool(json::field(pod.pod_security_context(), "runAsNonRoot"));
  if (pod_value && !*pod_value) {
    out.add(pod.spec_path().key("securityContext").key("runAsNonRoot"),
            message(kReason, "pod must not set securityContext.runAsNonRoot=false",
                    "set it to true and run the image as a non-zero UID"));
  }
  for (const ContainerView& c : pod.containers()) {
    const auto value = json::as_bool(json::field(c.spec, {"securityContext", "runAsNonRoot"}));
    const FieldPath path = pod.container_path(c).key("securityContext").key("runAsNonRoot");
    if (value) {
      if (!*value) {
        out.add(&c, path,
                message(kReason, describe(c) + " must not set securityContext.runAsNonRoot=false",
                        "set it to true and run the image as a non-zero UID"));
      }
      continue;
    }
    // Unset: covered by a pod-level true, or already reported with a pod-level false.
    if (pod_value) continue;
    out.add(&c, path,
            message(kReason, "pod or " + describe(c) + " must set securityContext.runAsNonRoot=true",
                    "set runAsNonRoot: true in the pod's securityContext (for every container) or in this "
                    "container's"));
  }
}

}  // namespace

const Rule& run_as_non_root() {
  static const Rule kRule{
      .doc = {.id = "pss.runAsNonRoot",
              .summary = "A container is not required to run as a non-root user.",
              .description = "Pod Security Standards restricted check `runAsNonRoot`. Reads "
                             "`spec.securityContext.runAsNonRoot` and `securityContext.runAsNonRoot` of every init, "
                             "regular and ephemeral container: each container must set it to `true` or leave it "
                             "unset under a pod-level `true`. An explicit `false` fails wherever it is set, a "
                             "pod-level `false` even when every container overrides it. `runAsUser` is not "
                             "considered here. Pods with `spec.hostUsers: false` are not checked.",
              .rationale = "With `runAsNonRoot: true` the kubelet refuses to start a container whose user would be "
                           "root, so an image that defaults to root cannot slip through.",
              .remediation = "Set `spec.securityContext.runAsNonRoot: true` (and a non-zero `runAsUser`, or a "
                             "numeric non-root `USER` in the image), and remove any `runAsNonRoot: false`.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kRestricted,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

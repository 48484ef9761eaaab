// run-as-non-root-group: no container runs with GID 0, and volumes are not
// owned by group 0.
//
// Reads securityContext.runAsGroup of every container (init, regular,
// ephemeral), falling back to spec.securityContext.runAsGroup, and
// spec.securityContext.fsGroup. Allows anything but an explicit 0; unset
// passes (the image's group applies).
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    const Effective group = pod.effective(c, {"runAsGroup"});
    if (json::as_int(group.value) == 0) {
      out.add(
          &c, [&] { return pod.effective_path(c, group.origin, {"runAsGroup"}); },
          [&] {
            return std::string("runAsGroup is 0 (the root group)") +
                   (group.origin == Origin::kPod ? " in the pod securityContext" : "") +
                   ", which gives the process root's group access to files; set runAsGroup to a non-zero GID "
                   "such as 1001";
          });
    }
  }
  const Json* fs_group = json::field(pod.pod_security_context(), "fsGroup");
  if (json::as_int(fs_group) == 0) {
    out.add(pod.spec_path().key("securityContext").key("fsGroup"),
            "fsGroup is 0, so mounted volumes are owned by the root group; set fsGroup to a non-zero GID such "
            "as 1001");
  }
}

}  // namespace

const Rule& run_as_non_root_group() {
  static const Rule kRule{
      .doc =
          {
              .id = "run-as-non-root-group",
              .summary = "A container whose effective runAsGroup is 0, or a pod whose fsGroup is 0.",
              .description =
                  "Checks securityContext.runAsGroup of every container, init container and ephemeral container "
                  "(falling back to spec.securityContext.runAsGroup) and spec.securityContext.fsGroup. Only an "
                  "explicit 0 fails; unset passes.",
              .rationale =
                  "Group 0 owns many files in base images and host paths; a process in the root group can read "
                  "or change them even when its UID is not 0.",
              .remediation = "Set securityContext.runAsGroup and fsGroup to a non-zero GID (1001).",
          },
      .contract_action = Action::kWarn,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

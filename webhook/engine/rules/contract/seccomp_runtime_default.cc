// seccomp-runtime-default: every container runs under a seccomp profile.
//
// Reads securityContext.seccompProfile.type of every container (init,
// regular, ephemeral), falling back to spec.securityContext.seccompProfile.
// Allows RuntimeDefault and Localhost. Windows pods are skipped (no seccomp).
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  if (pod.is_windows()) return;
  for (const ContainerView& c : pod.containers()) {
    const Effective profile = pod.effective(c, {"seccompProfile"});
    const std::string_view type = json::as_string(json::field(profile.value, "type"));
    if (type == "RuntimeDefault" || type == "Localhost") continue;
    if (profile.origin == Origin::kUnset) {
      out.add(
          &c, [&] { return pod.spec_path().key("securityContext").key("seccompProfile"); },
          [&] {
            return "no seccomp profile is set on the container or the pod (it runs Unconfined); set "
                   "securityContext.seccompProfile.type: RuntimeDefault in the pod spec";
          });
    } else {
      std::string message = "seccompProfile.type is ";
      if (type.empty()) {
        message += "not set";
      } else {
        message.append(1, '"').append(type).append(1, '"');
      }
      if (profile.origin == Origin::kPod) message += " in the pod securityContext";
      message += ", which filters no system calls; set seccompProfile.type: RuntimeDefault (or Localhost)";
      out.add(
          &c,
          [&] {
            return pod.effective_path(c, profile.origin, {"seccompProfile", "type"});
          },
          [&] { return std::move(message); });
    }
  }
}

}  // namespace

const Rule& seccomp_runtime_default() {
  static const Rule kRule{
      .doc =
          {
              .id = "seccomp-runtime-default",
              .summary = "No RuntimeDefault or Localhost seccomp profile in effect.",
              .description =
                  "Checks the effective seccompProfile.type of every container, init container and ephemeral "
                  "container: the container's securityContext.seccompProfile, falling back to the pod's. "
                  "RuntimeDefault and Localhost pass; Unconfined, unset or anything else fails. Pods with "
                  "spec.os.name: windows are skipped.",
              .rationale =
                  "Without a seccomp profile every system call is open to the process, including the rarely "
                  "used ones behind most container-escape kernel bugs. The runtime's default profile blocks "
                  "those and nothing an API needs.",
              .remediation = "Set spec.securityContext.seccompProfile.type: RuntimeDefault once for the whole pod.",
          },
      .contract_action = Action::kWarn,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

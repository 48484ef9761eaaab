// no-privilege-escalation: processes cannot gain more privileges than they
// started with.
//
// Reads securityContext.allowPrivilegeEscalation of every container (init,
// regular, ephemeral; there is no pod-level field). Allows only an explicit
// false. Windows pods are skipped (the field does not apply there).
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  if (pod.is_windows()) return;
  for (const ContainerView& c : pod.containers()) {
    const Json* ape = json::field(c.spec, {"securityContext", "allowPrivilegeEscalation"});
    const std::optional<bool> value = json::as_bool(ape);
    if (value == false) continue;
    out.add(
        &c, [&] { return pod.container_path(c).key("securityContext").key("allowPrivilegeEscalation"); },
        [&] {
          return std::string(value ? "allowPrivilegeEscalation is true"
                                   : "allowPrivilegeEscalation is not set (it defaults to true)") +
                 "; set securityContext.allowPrivilegeEscalation: false";
        });
  }
}

}  // namespace

const Rule& no_privilege_escalation() {
  static const Rule kRule{
      .doc =
          {
              .id = "no-privilege-escalation",
              .summary = "A container whose allowPrivilegeEscalation is not explicitly false.",
              .description =
                  "Checks securityContext.allowPrivilegeEscalation on every container, init container and "
                  "ephemeral container; unset or true fails (Kubernetes defaults it to true). Pods with "
                  "spec.os.name: windows are skipped.",
              .rationale =
                  "With privilege escalation allowed, a setuid binary in the image (or one an attacker writes) "
                  "can give the process more privileges than the pod was granted. Setting it to false sets the "
                  "no_new_privs flag on the process.",
              .remediation = "Set securityContext.allowPrivilegeEscalation: false on every container.",
          },
      .contract_action = Action::kWarn,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

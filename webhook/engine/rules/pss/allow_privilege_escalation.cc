// pss.allowPrivilegeEscalation (restricted): containers that may gain more
// privileges than their parent process (setuid binaries, file capabilities).
//
// Reads:  spec.os.name, and securityContext.allowPrivilegeEscalation of every
//         container (init, regular, ephemeral).
// Allows: allowPrivilegeEscalation explicitly false (unset means true);
//         pods with spec.os.name windows are not checked.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  if (pod.is_windows()) return;
  for (const ContainerView& c : pod.containers()) {
    const auto value = json::as_bool(json::field(c.spec, {"securityContext", "allowPrivilegeEscalation"}));
    if (value && !*value) continue;
    out.add(&c, pod.container_path(c).key("securityContext").key("allowPrivilegeEscalation"),
            message("allowPrivilegeEscalation != false",
                    describe(c) + " must set securityContext.allowPrivilegeEscalation=false",
                    value ? "change it to false"
                          : "add allowPrivilegeEscalation: false to the container's securityContext (unset means "
                            "true)"));
  }
}

}  // namespace

const Rule& allow_privilege_escalation() {
  static const Rule kRule{
      .doc = {.id = "pss.allowPrivilegeEscalation",
              .summary = "A container does not set allowPrivilegeEscalation: false.",
              .description = "Pod Security Standards restricted check `allowPrivilegeEscalation`. Reads "
                             "`securityContext.allowPrivilegeEscalation` of every init, regular and ephemeral "
                             "container; it must be explicitly `false` (unset counts as `true`). Pods with "
                             "`spec.os.name: windows` are not checked.",
              .rationale = "With privilege escalation allowed, a process can gain privileges through setuid "
                           "binaries or file capabilities, undoing a non-root user and dropped capabilities.",
              .remediation = "Set `securityContext.allowPrivilegeEscalation: false` on every container, init and "
                             "ephemeral containers included.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kRestricted,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

// pss.procMount_restricted (restricted; replaces pss.procMount): unmasked
// /proc mounts, with no exception for user namespaces.
//
// Reads:  securityContext.procMount of every container (init, regular,
//         ephemeral). spec.hostUsers is deliberately not read.
// Allows: unset or Default.
#include "engine/rules/pss/proc_mount_check.h"
#include "engine/rules/pss/pss_checks.h"

namespace podguard::pss {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  report_proc_mounts(pod, out,
                     "remove securityContext.procMount or set it to Default (restricted allows no other value, even "
                     "with spec.hostUsers: false)");
}

}  // namespace

const Rule& proc_mount_restricted() {
  static const Rule kRule{
      .doc = {.id = "pss.procMount_restricted",
              .summary = "A container does not use the default, masked /proc mount.",
              .description = "Pod Security Standards restricted check `procMount_restricted`. Reads "
                             "`securityContext.procMount` of every init, regular and ephemeral container; it must be "
                             "unset or `Default`, also in pods with `spec.hostUsers: false`. Replaces "
                             "`pss.procMount` at `pss-restricted`.",
              .rationale = "The default /proc mount masks kernel interfaces that a container could use to read or "
                           "change host state; the restricted level does not rely on user namespaces to contain "
                           "an unmasked /proc.",
              .remediation = "Remove `securityContext.procMount` or set it to `Default`; workloads that need "
                             "`Unmasked` belong in a namespace with the baseline policy and `spec.hostUsers: false`.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kRestricted,
      .replaces = "pss.procMount",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

// pss.procMount (baseline; replaced at restricted by pss.procMount_restricted):
// unmasked /proc mounts.
//
// Reads:  spec.hostUsers, and securityContext.procMount of every container
//         (init, regular, ephemeral).
// Allows: procMount unset or Default; anything when spec.hostUsers is false
//         (a user-namespaced pod cannot reach the host through /proc).
#include "engine/reading/json_access.h"
#include "engine/rules/pss/proc_mount_check.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {

void report_proc_mounts(const PodView& pod, Findings& out, std::string_view remedy) {
  for (const ContainerView& c : pod.containers()) {
    const Json* proc_mount = json::field(c.spec, {"securityContext", "procMount"});
    if (proc_mount == nullptr || !proc_mount->is_string()) continue;
    const std::string_view value = json::as_string(proc_mount);
    if (value == "Default") continue;
    out.add(&c, pod.container_path(c).key("securityContext").key("procMount"),
            message("procMount", describe(c) + " must not set securityContext.procMount to " + quote(value), remedy));
  }
}

namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const auto host_users = json::as_bool(json::field(&pod.spec(), "hostUsers"));
  if (host_users && !*host_users) return;
  report_proc_mounts(pod, out,
                     "remove securityContext.procMount or set it to Default (Unmasked is allowed at baseline only in "
                     "a user namespace, with spec.hostUsers: false)");
}

}  // namespace

const Rule& proc_mount() {
  static const Rule kRule{
      .doc = {.id = "pss.procMount",
              .summary = "A container unmasks /proc outside a user namespace.",
              .description = "Pod Security Standards baseline check `procMount`. Reads "
                             "`securityContext.procMount` of every init, regular and ephemeral container; it must be "
                             "unset or `Default`. Pods with `spec.hostUsers: false` (user namespaces) are not "
                             "checked. At `pss-restricted` this check is replaced by `pss.procMount_restricted`, "
                             "which has no user-namespace exception.",
              .rationale = "The default /proc mount masks kernel interfaces (such as /proc/sys and /proc/kcore) "
                           "that a container could otherwise use to read or change host state.",
              .remediation = "Remove `securityContext.procMount` or set it to `Default`; a workload that needs "
                             "`Unmasked` (nested containers) must run with `spec.hostUsers: false`.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

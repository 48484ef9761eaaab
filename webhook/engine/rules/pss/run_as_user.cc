// pss.runAsUser (restricted): an explicit root UID.
//
// Reads:  spec.hostUsers, spec.securityContext.runAsUser, and
//         securityContext.runAsUser of every container (init, regular,
//         ephemeral). runAsGroup is not read.
// Allows: runAsUser unset or non-zero at every level (a pod-level 0 fails
//         even when every container overrides it); pods with spec.hostUsers
//         false (user namespaces) are not checked.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

void report(const PodView& pod, const ContainerView* c, Findings& out) {
  const Json* context = c == nullptr ? pod.pod_security_context() : json::field(c->spec, "securityContext");
  const auto uid = json::as_int(json::field(context, "runAsUser"));
  if (!uid || *uid != 0) return;
  const FieldPath base = c == nullptr ? pod.spec_path() : pod.container_path(*c);
  out.add(c, base.key("securityContext").key("runAsUser"),
          message("runAsUser=0", setter(c) + " must not set runAsUser=0",
                  "set runAsUser to a non-zero UID (such as 1001) or remove it"));
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const auto host_users = json::as_bool(json::field(&pod.spec(), "hostUsers"));
  if (host_users && !*host_users) return;
  report(pod, nullptr, out);
  for (const ContainerView& c : pod.containers()) report(pod, &c, out);
}

}  // namespace

const Rule& run_as_user() {
  static const Rule kRule{
      .doc = {.id = "pss.runAsUser",
              .summary = "The pod or a container sets runAsUser: 0 (root).",
              .description = "Pod Security Standards restricted check `runAsUser`. Reads "
                             "`spec.securityContext.runAsUser` and `securityContext.runAsUser` of every init, "
                             "regular and ephemeral container; none may be `0`. A pod-level `0` fails even when every "
                             "container sets another UID. Unset is allowed (`pss.runAsNonRoot` covers it). Pods with "
                             "`spec.hostUsers: false` are not checked.",
              .rationale = "UID 0 is root: together with any other gap (a writable host mount, a kernel bug) it "
                           "turns a container compromise into a node compromise.",
              .remediation = "Set `runAsUser` to a non-zero UID (the image's non-root user, e.g. 1001) or remove it, "
                             "at the pod level and in every container.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kRestricted,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

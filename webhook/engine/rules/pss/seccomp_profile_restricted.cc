// pss.seccompProfile_restricted (restricted; replaces
// pss.seccompProfile_baseline): containers without a seccomp profile in force.
//
// Reads:  spec.os.name, spec.securityContext.seccompProfile.type, and the same
//         field of every container (init, regular, ephemeral).
// Allows: every container covered by type RuntimeDefault or Localhost, set on
//         the container or inherited from the pod. Any other type set at
//         either level is denied (a bad pod value even when every container
//         overrides it). Pods with spec.os.name windows are not checked.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::string_view kReason = "seccompProfile";

enum class Seccomp { kUnset, kAllowed, kForbidden };

Seccomp classify(const Json* profile, std::string_view& type) {
  if (profile == nullptr || profile->is_null()) return Seccomp::kUnset;
  type = json::as_string(json::field(profile, "type"));
  return type == "RuntimeDefault" || type == "Localhost" ? Seccomp::kAllowed : Seccomp::kForbidden;
}

void report_forbidden(const PodView& pod, const ContainerView* c, std::string_view type, Findings& out) {
  const FieldPath base = c == nullptr ? pod.spec_path() : pod.container_path(*c);
  out.add(c, base.key("securityContext").key("seccompProfile").key("type"),
          message(kReason, setter(c) + " must not set securityContext.seccompProfile.type to " + quote(type),
                  "set it to RuntimeDefault (or Localhost with a localhostProfile)"));
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  if (pod.is_windows()) return;
  std::string_view pod_type;
  const Seccomp pod_profile = classify(json::field(pod.pod_security_context(), "seccompProfile"), pod_type);
  if (pod_profile == Seccomp::kForbidden) report_forbidden(pod, nullptr, pod_type, out);

  for (const ContainerView& c : pod.containers()) {
    std::string_view type;
    switch (classify(json::field(c.spec, {"securityContext", "seccompProfile"}), type)) {
      case Seccomp::kAllowed:
        break;
      case Seccomp::kForbidden:
        report_forbidden(pod, &c, type, out);
        break;
      case Seccomp::kUnset:
        // Inherits the pod's: fine when allowed, already reported when forbidden.
        if (pod_profile != Seccomp::kUnset) break;
        out.add(&c, pod.container_path(c).key("securityContext").key("seccompProfile"),
                message(kReason,
                        "pod or " + describe(c) +
                            " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"",
                        "set spec.securityContext.seccompProfile.type: RuntimeDefault (for every container) or "
                        "set it on this container"));
        break;
    }
  }
}

}  // namespace

const Rule& seccomp_profile_restricted() {
  static const Rule kRule{
      .doc = {.id = "pss.seccompProfile_restricted",
              .summary = "A container has no RuntimeDefault or Localhost seccomp profile in force.",
              .description = "Pod Security Standards restricted check `seccompProfile_restricted`. Reads "
                             "`spec.securityContext.seccompProfile.type` and the same field of every init, regular "
                             "and ephemeral container: each container must have type `RuntimeDefault` or "
                             "`Localhost`, set on itself or inherited from the pod. Any other type set at either "
                             "level fails (a pod-level `Unconfined` even when every container overrides it). Pods "
                             "with `spec.os.name: windows` are not checked. Replaces `pss.seccompProfile_baseline` "
                             "at `pss-restricted`.",
              .rationale = "Without a seccomp profile a container may make every system call, including rarely used "
                           "ones that carry most kernel exploits.",
              .remediation = "Set `spec.securityContext.seccompProfile.type: RuntimeDefault` once for the whole pod "
                             "(or `Localhost` with a `localhostProfile`), and remove any `Unconfined`.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kRestricted,
      .replaces = "pss.seccompProfile_baseline",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

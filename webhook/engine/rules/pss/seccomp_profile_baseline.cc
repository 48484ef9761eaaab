// pss.seccompProfile_baseline (baseline; replaced at restricted by
// pss.seccompProfile_restricted): seccomp explicitly turned off.
//
// Reads:  spec.securityContext.seccompProfile.type and the same field of
//         every container (init, regular, ephemeral). The seccomp
//         annotations are not read (policy versions from 1.19 ignore them).
// Allows: seccompProfile unset, or type RuntimeDefault or Localhost.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

void report(const PodView& pod, const ContainerView* c, Findings& out) {
  const Json* context = c == nullptr ? pod.pod_security_context() : json::field(c->spec, "securityContext");
  const Json* profile = json::field(context, "seccompProfile");
  if (profile == nullptr || profile->is_null()) return;
  const std::string_view type = json::as_string(json::field(profile, "type"));
  if (type == "RuntimeDefault" || type == "Localhost") return;
  const FieldPath base = c == nullptr ? pod.spec_path() : pod.container_path(*c);
  out.add(c, base.key("securityContext").key("seccompProfile").key("type"),
          message("seccompProfile", setter(c) + " must not set securityContext.seccompProfile.type to " + quote(type),
                  "set it to RuntimeDefault (or Localhost with a localhostProfile), or remove seccompProfile"));
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  report(pod, nullptr, out);
  for (const ContainerView& c : pod.containers()) report(pod, &c, out);
}

}  // namespace

const Rule& seccomp_profile_baseline() {
  static const Rule kRule{
      .doc = {.id = "pss.seccompProfile_baseline",
              .summary = "The pod or a container sets a seccomp profile other than RuntimeDefault or Localhost.",
              .description = "Pod Security Standards baseline check `seccompProfile_baseline`. Reads "
                             "`spec.securityContext.seccompProfile.type` and the same field of every init, regular "
                             "and ephemeral container: when `seccompProfile` is set, its type must be "
                             "`RuntimeDefault` or `Localhost` (`Unconfined` or an empty type is forbidden). Unset "
                             "is allowed. At `pss-restricted` this check is replaced by "
                             "`pss.seccompProfile_restricted`, which also requires a profile.",
              .rationale = "Seccomp filters the system calls a container may make; `Unconfined` exposes the whole "
                           "kernel surface to it.",
              .remediation = "Set `seccompProfile.type: RuntimeDefault` (or `Localhost` with a `localhostProfile`), "
                             "or remove the `seccompProfile` that sets `Unconfined`.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

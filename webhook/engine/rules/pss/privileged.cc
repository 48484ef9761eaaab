// pss.privileged (baseline): privileged containers.
//
// Reads:  securityContext.privileged of every container (init, regular,
//         ephemeral); there is no pod-level field.
// Allows: unset or false.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    if (!json::is_true(json::field(c.spec, {"securityContext", "privileged"}))) continue;
    out.add(&c, pod.container_path(c).key("securityContext").key("privileged"),
            message("privileged", describe(c) + " must not set securityContext.privileged=true",
                    "remove securityContext.privileged or set it to false, and add only the capabilities "
                    "the container needs"));
  }
}

}  // namespace

const Rule& privileged() {
  static const Rule kRule{
      .doc = {.id = "pss.privileged",
              .summary = "A container runs privileged.",
              .description = "Pod Security Standards baseline check `privileged`. Reads "
                             "`securityContext.privileged` of every init, regular and ephemeral container; it must "
                             "be unset or `false`.",
              .rationale = "A privileged container has every capability and all host devices; it can take over "
                           "the node.",
              .remediation = "Remove `securityContext.privileged` or set it to `false`; grant single capabilities "
                             "instead if the workload needs them.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

// pss.windowsHostProcess (baseline): Windows HostProcess containers.
//
// Reads:  spec.securityContext.windowsOptions.hostProcess and the same field
//         of every container (init, regular, ephemeral), whatever spec.os is.
// Allows: unset or false.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

void report(const PodView& pod, const ContainerView* c, Findings& out) {
  const Json* context = c == nullptr ? pod.pod_security_context() : json::field(c->spec, "securityContext");
  if (!json::is_true(json::field(context, {"windowsOptions", "hostProcess"}))) return;
  const FieldPath base = c == nullptr ? pod.spec_path() : pod.container_path(*c);
  out.add(c, base.key("securityContext").key("windowsOptions").key("hostProcess"),
          message("hostProcess", setter(c) + " must not set securityContext.windowsOptions.hostProcess=true",
                  "remove windowsOptions.hostProcess or set it to false"));
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  report(pod, nullptr, out);
  for (const ContainerView& c : pod.containers()) report(pod, &c, out);
}

}  // namespace

const Rule& windows_host_process() {
  static const Rule kRule{
      .doc = {.id = "pss.windowsHostProcess",
              .summary = "The pod or a container runs as a Windows HostProcess container.",
              .description = "Pod Security Standards baseline check `windowsHostProcess`. Reads "
                             "`spec.securityContext.windowsOptions.hostProcess` and the same field of every init, "
                             "regular and ephemeral container; it must be unset or `false`. Applies whatever "
                             "`spec.os.name` says.",
              .rationale = "A HostProcess container runs directly on the Windows host with the host's network and "
                           "file system: it is the Windows equivalent of a privileged container.",
              .remediation = "Remove `windowsOptions.hostProcess` (or set it to `false`); node agents that need "
                             "host access belong in a namespace with a privileged policy.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

// pss.hostNamespaces (baseline): sharing the host's network, process or IPC
// namespace.
//
// Reads:  spec.hostNetwork, spec.hostPID, spec.hostIPC
// Allows: each unset or false.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

struct HostNamespace {
  std::string_view field;
  std::string_view remedy;
};

constexpr HostNamespace kHostNamespaces[] = {
    {"hostNetwork", "remove hostNetwork or set it to false, and reach the pod through a Service"},
    {"hostPID", "remove hostPID or set it to false"},
    {"hostIPC", "remove hostIPC or set it to false"},
};

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const HostNamespace& ns : kHostNamespaces) {
    if (!json::is_true(json::field(&pod.spec(), ns.field))) continue;
    out.add(pod.spec_path().key(ns.field), message("host namespaces", std::string(ns.field) + "=true", ns.remedy));
  }
}

}  // namespace

const Rule& host_namespaces() {
  static const Rule kRule{
      .doc = {.id = "pss.hostNamespaces",
              .summary = "The pod shares the host's network, process or IPC namespace.",
              .description = "Pod Security Standards baseline check `hostNamespaces`. Reads `spec.hostNetwork`, "
                             "`spec.hostPID` and `spec.hostIPC`; each must be unset or `false`. One violation per "
                             "field set to `true`.",
              .rationale = "A pod in the host's namespaces can see and talk to every process, socket and shared "
                           "memory segment on the node, which defeats container isolation.",
              .remediation = "Remove `hostNetwork`, `hostPID` and `hostIPC` (or set them to `false`); expose network "
                             "services through a Service instead of the host's network.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

// host-namespaces: pods do not share the node's network, PID or IPC
// namespaces.
//
// Reads spec.hostNetwork, spec.hostPID and spec.hostIPC. Allows false or
// unset.
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  struct Field {
    std::string_view name;
    std::string_view effect;
  };
  for (const Field& f : {Field{"hostNetwork", "the node's network interfaces and every port on them"},
                         Field{"hostPID", "every process on the node"},
                         Field{"hostIPC", "the node's shared memory and IPC"}}) {
    if (!json::is_true(json::field(&pod.spec(), f.name))) continue;
    out.add(pod.spec_path().key(f.name), std::string(f.name) + ": true gives the pod " + std::string(f.effect) +
                                             "; remove " + std::string(f.name) + " (or set it to false)");
  }
}

}  // namespace

const Rule& host_namespaces() {
  static const Rule kRule{
      .doc =
          {
              .id = "host-namespaces",
              .summary = "A pod with hostNetwork, hostPID or hostIPC set to true.",
              .description = "Checks spec.hostNetwork, spec.hostPID and spec.hostIPC; any of them true fails.",
              .rationale =
                  "Sharing the node's namespaces breaks the isolation the pod relies on: hostNetwork exposes the "
                  "node's interfaces and bypasses NetworkPolicy, hostPID lets the pod see and signal every "
                  "process on the node, hostIPC shares its memory segments.",
              .remediation =
                  "Remove hostNetwork, hostPID and hostIPC. Expose the application through a Service instead.",
          },
      .contract_action = Action::kDeny,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

// no-privileged: no privileged containers and no Windows host processes.
//
// Reads securityContext.privileged of every container (init, regular,
// ephemeral; there is no pod-level field) and
// securityContext.windowsOptions.hostProcess, falling back to
// spec.securityContext.windowsOptions.hostProcess. Allows false or unset.
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    if (json::is_true(json::field(c.spec, {"securityContext", "privileged"}))) {
      out.add(
          &c, [&] { return pod.container_path(c).key("securityContext").key("privileged"); },
          [&] {
            return std::string(
                "privileged: true gives the container every capability and access to the node's devices; remove "
                "it and add only the capabilities the process needs");
          });
    }
    const Effective host_process = pod.effective(c, {"windowsOptions", "hostProcess"});
    if (json::is_true(host_process.value)) {
      out.add(
          &c,
          [&] {
            return pod.effective_path(c, host_process.origin, {"windowsOptions", "hostProcess"});
          },
          [&] {
            return std::string("windowsOptions.hostProcess: true") +
                   (host_process.origin == Origin::kPod ? " in the pod securityContext" : "") +
                   " runs the container as a process on the Windows node; remove it";
          });
    }
  }
}

}  // namespace

const Rule& no_privileged() {
  static const Rule kRule{
      .doc =
          {
              .id = "no-privileged",
              .summary = "A privileged container, or a Windows HostProcess container.",
              .description =
                  "Checks securityContext.privileged on every container, init container and ephemeral container, "
                  "and securityContext.windowsOptions.hostProcess on each container with the pod's "
                  "spec.securityContext.windowsOptions.hostProcess as fallback. Either being true fails.",
              .rationale =
                  "A privileged container has all capabilities and the node's devices: it is root on the node "
                  "in all but name. A HostProcess container runs directly on the Windows node.",
              .remediation =
                  "Remove privileged: true (and hostProcess: true). Add only the specific capabilities the "
                  "process needs, which is usually none.",
          },
      .contract_action = Action::kDeny,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

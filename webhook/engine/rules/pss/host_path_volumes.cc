// pss.hostPathVolumes (baseline; replaced at restricted by
// pss.restrictedVolumes): volumes that mount a path of the node.
//
// Reads:  spec.volumes[*].hostPath
// Allows: no volume with a hostPath source (null counts as unset).
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const auto& volumes = json::items(json::field(&pod.spec(), "volumes"));
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    const Json* host_path = json::field(&volumes[i], "hostPath");
    // Any non-null value counts: a malformed source is no reason to let it through.
    if (host_path == nullptr || host_path->is_null()) continue;
    const std::string_view name = json::as_string(json::field(&volumes[i], "name"));
    out.add(pod.spec_path().key("volumes").index(i).key("hostPath"),
            message("hostPath volumes", "volume " + quote(name),
                    "replace it with a persistentVolumeClaim, emptyDir, configMap or secret volume"));
  }
}

}  // namespace

const Rule& host_path_volumes() {
  static const Rule kRule{
      .doc = {.id = "pss.hostPathVolumes",
              .summary = "The pod mounts a hostPath volume.",
              .description = "Pod Security Standards baseline check `hostPathVolumes`. Reads `spec.volumes[*]`; no "
                             "volume may have a `hostPath` source. One violation per hostPath volume. At "
                             "`pss-restricted` this check is replaced by `pss.restrictedVolumes`, which also "
                             "forbids hostPath.",
              .rationale = "A hostPath volume exposes the node's filesystem (container runtime sockets, kubelet "
                           "credentials, other pods' data) to the container.",
              .remediation = "Use a persistentVolumeClaim for durable data, emptyDir for scratch space, or a "
                             "configMap or secret for configuration; node agents that need host files belong in "
                             "a namespace with a privileged policy.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

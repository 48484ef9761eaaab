// read-only-root-filesystem: containers cannot write to their image.
//
// Reads securityContext.readOnlyRootFilesystem of every container (init,
// regular, ephemeral; there is no pod-level field). Allows only true.
// Windows pods (spec.os.name: windows) are skipped: the API forbids the field
// there.
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  if (pod.is_windows()) return;
  for (const ContainerView& c : pod.containers()) {
    const Json* ro = json::field(c.spec, {"securityContext", "readOnlyRootFilesystem"});
    if (json::is_true(ro)) continue;
    const bool explicit_false = json::as_bool(ro) == false;
    out.add(
        &c, [&] { return pod.container_path(c).key("securityContext").key("readOnlyRootFilesystem"); },
        [&] {
          return std::string(explicit_false ? "readOnlyRootFilesystem is false" : "readOnlyRootFilesystem is not set") +
                 "; set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where it must write "
                 "(e.g. /tmp)";
        });
  }
}

}  // namespace

const Rule& read_only_root_filesystem() {
  static const Rule kRule{
      .doc =
          {
              .id = "read-only-root-filesystem",
              .summary = "A container without readOnlyRootFilesystem: true.",
              .description =
                  "Checks securityContext.readOnlyRootFilesystem on every container, init container and ephemeral "
                  "container; anything but true fails. Pods with spec.os.name: windows are skipped, since the "
                  "API does not allow the field there.",
              .rationale =
                  "A writable root filesystem lets an attacker who gets code execution drop tools and persist "
                  "changes, and lets the application drift from the image that was reviewed. Writes belong in "
                  "volumes that are meant for them.",
              .remediation =
                  "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir volume for each path the "
                  "process writes (/tmp, caches).",
          },
      .contract_action = Action::kDeny,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

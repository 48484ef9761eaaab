// pss.restrictedVolumes (restricted; replaces pss.hostPathVolumes): volume
// types other than the ones a workload needs for config, scratch space and
// claimed storage.
//
// Reads:  spec.volumes[*] and the source each one sets.
// Allows: a volume with a configMap, csi, downwardAPI, emptyDir, ephemeral,
//         image, persistentVolumeClaim, projected or secret source, and one
//         with no source at all (the API server defaults it to emptyDir).
#include <algorithm>
#include <array>

#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::array<std::string_view, 9> kAllowed = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret",
};

// Restricted types in the order upstream names the first one it finds.
constexpr std::array<std::string_view, 21> kRestricted = {
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
};

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const auto& volumes = json::items(json::field(&pod.spec(), "volumes"));
  for (std::size_t i = 0; i < volumes.size(); ++i) {
    const Json& volume = volumes[i];
    if (!volume.is_object()) continue;
    // Every non-null key besides `name` is a source; a malformed source value
    // still counts as set.
    std::vector<std::string_view> sources;
    for (const auto& [key, value] : volume.items()) {
      if (key != "name" && !value.is_null()) sources.emplace_back(key);
    }
    if (sources.empty()) continue;  // defaulted to emptyDir
    if (std::any_of(sources.begin(), sources.end(), [](std::string_view s) { return contains(kAllowed, s); })) {
      continue;
    }
    std::string_view type = "unknown";
    std::string_view field = sources.front();
    for (std::string_view restricted : kRestricted) {
      if (std::find(sources.begin(), sources.end(), restricted) != sources.end()) {
        type = restricted;
        field = restricted;
        break;
      }
    }
    const std::string_view name = json::as_string(json::field(&volume, "name"));
    out.add(pod.spec_path().key("volumes").index(i).key(field),
            message("restricted volume types", "volume " + quote(name) + " uses restricted volume type " + quote(type),
                    "use a configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected "
                    "or secret volume instead (a persistentVolumeClaim can bind the same storage)"));
  }
}

}  // namespace

const Rule& restricted_volumes() {
  static const Rule kRule{
      .doc = {.id = "pss.restrictedVolumes",
              .summary = "The pod uses a volume type other than configMap, csi, downwardAPI, emptyDir, ephemeral, "
                         "image, persistentVolumeClaim, projected or secret.",
              .description = "Pod Security Standards restricted check `restrictedVolumes`. Reads `spec.volumes[*]`: "
                             "each volume must have a `configMap`, `csi`, `downwardAPI`, `emptyDir`, `ephemeral`, "
                             "`image`, `persistentVolumeClaim`, `projected` or `secret` source. A volume with no "
                             "source is allowed (the API server makes it an emptyDir). Every other source "
                             "(`hostPath`, `nfs`, `gitRepo`, in-tree cloud disks, ...) is forbidden. Replaces "
                             "`pss.hostPathVolumes` at `pss-restricted`. One violation per forbidden volume.",
              .rationale = "Directly mounted network and host storage bypasses the PersistentVolume layer, where "
                           "cluster administrators control which storage a namespace may use; hostPath exposes the "
                           "node itself.",
              .remediation = "Mount storage through a persistentVolumeClaim (an administrator-made PersistentVolume "
                             "can point at the same NFS share or disk), and use emptyDir, configMap, secret or "
                             "projected volumes for everything else.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kRestricted,
      .replaces = "pss.hostPathVolumes",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

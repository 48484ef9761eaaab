// pss.capabilities_baseline (baseline; replaced at restricted by
// pss.capabilities_restricted): adding capabilities beyond the container
// runtime's default set.
//
// Reads:  securityContext.capabilities.add of every container (init, regular,
//         ephemeral). `drop` is not read.
// Allows: only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD,
//         NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT,
//         compared exactly (`chown` and `CAP_CHOWN` are not allowed).
#include <algorithm>
#include <array>

#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::array<std::string_view, 13> kAllowed = {
    "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",       "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT",
};

bool allowed(std::string_view capability) {
  return std::find(kAllowed.begin(), kAllowed.end(), capability) != kAllowed.end();
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    const Json* add = json::field(c.spec, {"securityContext", "capabilities", "add"});
    const auto& entries = json::items(add);
    std::vector<std::string> bad;
    std::vector<std::string> respelled;
    std::size_t first_bad = 0;
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].is_string()) continue;
      const std::string_view capability = json::as_string(&entries[i]);
      if (allowed(capability)) continue;
      if (bad.empty()) first_bad = i;
      bad.emplace_back(capability);
      const std::string canonical = canonical_capability(capability);
      if (!canonical.empty() && allowed(canonical)) respelled.push_back(canonical);
    }
    if (bad.empty()) continue;
    bad = sorted_unique(std::move(bad));
    std::string remedy = std::string("remove ") + std::string(pluralize("it", "them", bad.size())) +
                         " (baseline allows adding only AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, "
                         "MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID and SYS_CHROOT)";
    if (!respelled.empty()) {
      remedy += ", or spell " + std::string(pluralize("it", "them", respelled.size())) + " " +
                join(sorted_unique(respelled)) + " (upper case, without the CAP_ prefix)";
    }
    out.add(&c, pod.container_path(c).key("securityContext").key("capabilities").key("add").index(first_bad),
            message("non-default capabilities",
                    describe(c) + " must not include " + join_quoted(bad) + " in securityContext.capabilities.add",
                    remedy));
  }
}

}  // namespace

const Rule& capabilities_baseline() {
  static const Rule kRule{
      .doc = {.id = "pss.capabilities_baseline",
              .summary = "A container adds a capability outside the container runtime's default set.",
              .description = "Pod Security Standards baseline check `capabilities_baseline`. Reads "
                             "`securityContext.capabilities.add` of every init, regular and ephemeral container. "
                             "Each entry must be one of `AUDIT_WRITE`, `CHOWN`, `DAC_OVERRIDE`, `FOWNER`, `FSETID`, "
                             "`KILL`, `MKNOD`, `NET_BIND_SERVICE`, `SETFCAP`, `SETGID`, `SETPCAP`, `SETUID`, "
                             "`SYS_CHROOT`, spelled exactly so (`chown` and `CAP_CHOWN` are forbidden). `drop` is not "
                             "read. At `pss-restricted` this check is replaced by `pss.capabilities_restricted`.",
              .rationale = "Capabilities such as `SYS_ADMIN`, `NET_ADMIN` or `NET_RAW` let a container change the "
                           "node's kernel state, sniff or spoof traffic, or escape its sandbox.",
              .remediation = "Remove the extra entries from `securityContext.capabilities.add`; if the workload "
                             "truly needs one, run it in a namespace whose policy allows it.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

// pss.sysctls (baseline): kernel parameters outside the safe, namespaced set.
//
// Reads:  spec.securityContext.sysctls[*].name (values are not read)
// Allows: exactly these names (policy v1.37): kernel.shm_rmid_forced,
//         net.ipv4.ip_local_port_range, net.ipv4.ip_local_reserved_ports,
//         net.ipv4.tcp_syncookies, net.ipv4.ping_group_range,
//         net.ipv4.ip_unprivileged_port_start, net.ipv4.tcp_keepalive_time,
//         net.ipv4.tcp_fin_timeout, net.ipv4.tcp_keepalive_intvl,
//         net.ipv4.tcp_keepalive_probes, net.ipv4.tcp_rmem, net.ipv4.tcp_wmem,
//         net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_lowat.
//         No prefixes or globs; `/` separators are not normalized.
#include <algorithm>
#include <array>

#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::array<std::string_view, 14> kAllowed = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",    // 1.27
    "net.ipv4.tcp_keepalive_time",         // 1.29
    "net.ipv4.tcp_fin_timeout",            // 1.29
    "net.ipv4.tcp_keepalive_intvl",        // 1.29
    "net.ipv4.tcp_keepalive_probes",       // 1.29
    "net.ipv4.tcp_rmem",                   // 1.32
    "net.ipv4.tcp_wmem",                   // 1.32
    "net.ipv4.tcp_slow_start_after_idle",  // 1.37
    "net.ipv4.tcp_notsent_lowat",          // 1.37
};

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const auto& sysctls = json::items(json::field(pod.pod_security_context(), "sysctls"));
  for (std::size_t i = 0; i < sysctls.size(); ++i) {
    const std::string_view name = json::as_string(json::field(&sysctls[i], "name"));
    if (!name.empty() && std::find(kAllowed.begin(), kAllowed.end(), name) != kAllowed.end()) continue;
    out.add(pod.spec_path().key("securityContext").key("sysctls").index(i).key("name"),
            message("forbidden sysctls", name.empty() ? std::string("sysctl without a name") : printable(name),
                    "remove it from spec.securityContext.sysctls (baseline allows only kernel.shm_rmid_forced and "
                    "the namespaced net.ipv4 sysctls listed in the pss.sysctls rule reference)"));
  }
}

}  // namespace

const Rule& sysctls() {
  static const Rule kRule{
      .doc = {.id = "pss.sysctls",
              .summary = "The pod sets a sysctl outside the safe set.",
              .description = "Pod Security Standards baseline check `sysctls` (policy v1.37). Reads "
                             "`spec.securityContext.sysctls[*].name`; each must be exactly one of "
                             "`kernel.shm_rmid_forced`, `net.ipv4.ip_local_port_range`, "
                             "`net.ipv4.ip_local_reserved_ports`, `net.ipv4.tcp_syncookies`, "
                             "`net.ipv4.ping_group_range`, `net.ipv4.ip_unprivileged_port_start`, "
                             "`net.ipv4.tcp_keepalive_time`, `net.ipv4.tcp_fin_timeout`, "
                             "`net.ipv4.tcp_keepalive_intvl`, `net.ipv4.tcp_keepalive_probes`, "
                             "`net.ipv4.tcp_rmem`, `net.ipv4.tcp_wmem`, `net.ipv4.tcp_slow_start_after_idle`, "
                             "`net.ipv4.tcp_notsent_lowat`. Values are not checked. One violation per forbidden "
                             "sysctl.",
              .rationale = "Sysctls outside this set are not isolated per pod: they change the kernel for every "
                           "workload on the node, or can exhaust its resources.",
              .remediation = "Remove the sysctl from the pod; tune node-wide kernel parameters on the node itself "
                             "(for example with a node configuration tool), not from a workload.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

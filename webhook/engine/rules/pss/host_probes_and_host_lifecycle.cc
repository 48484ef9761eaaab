// pss.hostProbesAndHostLifecycle (baseline): probes and lifecycle hooks aimed
// at a host other than the pod itself.
//
// Reads:  livenessProbe, readinessProbe, startupProbe, lifecycle.postStart
//         and lifecycle.preStop of every container (init, regular,
//         ephemeral): their httpGet.host and tcpSocket.host. exec and grpc
//         handlers have no host and are not read.
// Allows: host unset or "" (the kubelet then connects to the pod IP). Any
//         other value, localhost and loopback addresses included, is denied.
#include <array>

#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

struct Handler {
  std::string_view first;
  std::string_view second;  // empty for a probe
};

constexpr std::array<Handler, 5> kHandlers = {{
    {"livenessProbe", ""},
    {"readinessProbe", ""},
    {"startupProbe", ""},
    {"lifecycle", "postStart"},
    {"lifecycle", "preStop"},
}};

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    std::vector<std::string> hosts;
    FieldPath first_bad;
    for (const Handler& h : kHandlers) {
      const Json* handler = json::field(c.spec, h.first);
      if (!h.second.empty()) handler = json::field(handler, h.second);
      for (std::string_view action : {"httpGet", "tcpSocket"}) {
        const std::string_view host = json::as_string(json::field(handler, {action, "host"}));
        if (host.empty()) continue;
        if (hosts.empty()) {
          first_bad = pod.container_path(c).key(h.first);
          if (!h.second.empty()) first_bad.push_key(h.second);
          first_bad.push_key(action).push_key("host");
        }
        hosts.emplace_back(host);
      }
    }
    if (hosts.empty()) continue;
    hosts = sorted_unique(std::move(hosts));
    out.add(&c, std::move(first_bad),
            message("probe or lifecycle host",
                    describe(c) + " uses " +
                        std::string(pluralize("probe or lifecycle host", "probe or lifecycle hosts", hosts.size())) +
                        " " + join_quoted(hosts),
                    "remove host so the kubelet connects to the pod's own IP (set a Host header in "
                    "httpGet.httpHeaders if the server needs a name)"));
  }
}

}  // namespace

const Rule& host_probes_and_host_lifecycle() {
  static const Rule kRule{
      .doc = {.id = "pss.hostProbesAndHostLifecycle",
              .summary = "A probe or lifecycle hook connects to a host other than the pod.",
              .description = "Pod Security Standards baseline check `hostProbesAndHostLifecycle` (policy v1.34 and "
                             "later). Reads `httpGet.host` and `tcpSocket.host` of the `livenessProbe`, "
                             "`readinessProbe`, `startupProbe`, `lifecycle.postStart` and `lifecycle.preStop` of "
                             "every init, regular and ephemeral container; each must be unset or empty. Any value "
                             "is forbidden, `localhost` and `127.0.0.1` included.",
              .rationale = "The kubelet makes these connections from the node; a host field lets a pod make the "
                           "kubelet reach other addresses (node-local services, cloud metadata endpoints) on its "
                           "behalf.",
              .remediation = "Remove `host` from the probe or hook so the kubelet connects to the pod's own IP; "
                             "send a `Host` header with `httpGet.httpHeaders` if the server needs a name.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

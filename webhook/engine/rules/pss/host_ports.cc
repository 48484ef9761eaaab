// pss.hostPorts (baseline): container ports bound on the node's network.
//
// Reads:  ports[*].hostPort of every container (init, regular, ephemeral)
// Allows: unset or 0.
#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    const auto& ports = json::items(json::field(c.spec, "ports"));
    std::vector<std::string> host_ports;
    std::size_t first_bad = 0;
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const auto host_port = json::as_int(json::field(&ports[i], "hostPort"));
      if (!host_port || *host_port == 0) continue;
      if (host_ports.empty()) first_bad = i;
      host_ports.push_back(std::to_string(*host_port));
    }
    if (host_ports.empty()) continue;
    // Upstream sorts the ports as strings.
    host_ports = sorted_unique(std::move(host_ports));
    out.add(&c, pod.container_path(c).key("ports").index(first_bad).key("hostPort"),
            message("hostPort",
                    describe(c) + " uses " + std::string(pluralize("hostPort", "hostPorts", host_ports.size())) + " " +
                        join(host_ports),
                    "remove hostPort (containerPort alone is enough) and reach the pod through a Service"));
  }
}

}  // namespace

const Rule& host_ports() {
  static const Rule kRule{
      .doc = {.id = "pss.hostPorts",
              .summary = "A container binds a port on the node (hostPort).",
              .description = "Pod Security Standards baseline check `hostPorts`. Reads `ports[*].hostPort` of every "
                             "init, regular and ephemeral container; it must be unset or `0`.",
              .rationale = "A hostPort opens a port on the node's own address, bypassing network policies that "
                           "select pods and tying the pod to nodes where the port is free.",
              .remediation = "Remove `hostPort` and keep `containerPort`; expose the port with a Service (NodePort "
                             "or LoadBalancer if it must be reachable from outside).",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

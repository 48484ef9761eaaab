// privileged-port: non-root containers listen on ports of 1024 and above.
//
// Reads ports[*].containerPort of spec.containers and spec.initContainers,
// whether the container is non-root (effective runAsUser above 0, or
// runAsNonRoot: true), and securityContext.capabilities.add. Fails on a port
// below 1024 in a non-root container that does not add NET_BIND_SERVICE.
// Containers that may run as root are left to run-as-non-root.
#include <cctype>

#include "engine/json_access.h"
#include "engine/rules/contract_rules.h"
#include "engine/rules/run_as.h"

namespace podguard::rules {
namespace {

bool adds_net_bind_service(const ContainerView& c) {
  for (const Json& cap : json::items(json::field(c.spec, {"securityContext", "capabilities", "add"}))) {
    std::string name;
    for (char ch : json::as_string(&cap)) name += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name == "NET_BIND_SERVICE" || name == "CAP_NET_BIND_SERVICE") return true;
  }
  return false;
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    if (c.kind == ContainerKind::kEphemeral) continue;
    const auto& ports = json::items(json::field(c.spec, "ports"));
    if (ports.empty()) continue;
    if (evaluate_run_as(pod, c, 1).verdict != RunAs::Verdict::kNonRoot || adds_net_bind_service(c)) continue;
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const std::optional<std::int64_t> port = json::as_int(json::field(&ports[i], "containerPort"));
      if (!port || *port <= 0 || *port >= 1024) continue;
      out.add(&c, pod.container_path(c).key("ports").index(i).key("containerPort"),
              "containerPort " + std::to_string(*port) +
                  " is below 1024, which a non-root process cannot bind without NET_BIND_SERVICE; listen on "
                  "a port of 1024 or above (e.g. 8000) and map the Service port to it");
    }
  }
}

}  // namespace

const Rule& privileged_port() {
  static const Rule kRule{
      .doc =
          {
              .id = "privileged-port",
              .summary = "A non-root container exposing a port below 1024 without NET_BIND_SERVICE.",
              .description =
                  "Checks ports[].containerPort on containers and init containers that run as non-root "
                  "(effective runAsUser above 0, or runAsNonRoot: true). A port below 1024 fails unless "
                  "securityContext.capabilities.add has NET_BIND_SERVICE. Containers that may run as root are "
                  "left to run-as-non-root.",
              .rationale =
                  "Binding a port below 1024 needs NET_BIND_SERVICE, so a non-root process fails at startup on "
                  "runtimes that keep the classic limit, and the usual workaround is running as root. The "
                  "contract listens on 8000.",
              .remediation =
                  "Listen on a port of 1024 or above (8000) and let the Service map port 80 to it; add "
                  "NET_BIND_SERVICE only if the low port cannot change.",
          },
      .contract_action = Action::kWarn,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

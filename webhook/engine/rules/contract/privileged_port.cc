// privileged-port: non-root containers listen on ports of 1024 and above.
//
// Reads ports[*].containerPort of spec.containers and spec.initContainers,
// whether the container is known to be non-root (effective runAsUser above
// 0; or runAsUser unset and, when lookups found the image, its USER a UID
// above 0, else runAsNonRoot: true), its
// securityContext.capabilities.add, and the pod sysctl
// net.ipv4.ip_unprivileged_port_start. Fails on a port below 1024 (or below
// that sysctl, when the pod lowers it) in a non-root container that does not
// add NET_BIND_SERVICE. Containers that may run as root are left to
// run-as-non-root.
#include <algorithm>
#include <cctype>
#include <charconv>

#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/run_as.h"

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

// The first port a non-root process may bind: 1024, or what the pod sets
// net.ipv4.ip_unprivileged_port_start to (a namespaced, safe sysctl).
std::int64_t unprivileged_port_start(const PodView& pod) {
  for (const Json& s : json::items(json::field(pod.pod_security_context(), "sysctls"))) {
    if (json::as_string(json::field(&s, "name")) != "net.ipv4.ip_unprivileged_port_start") continue;
    const std::string_view value = json::as_string(json::field(&s, "value"));
    std::int64_t start = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), start);
    if (ec == std::errc() && end == value.data() + value.size() && start >= 0) return std::min<std::int64_t>(start, 1024);
  }
  return 1024;
}

// Known to run as a non-root user: an effective UID above 0; or no UID and
// an image (when lookups found it) whose USER is a UID above 0 on every
// platform judged; or no UID, the image unknown and runAsNonRoot: true (the
// kubelet then refuses a root image).
bool known_non_root(const PodView& pod, const ContainerView& c) {
  const RunAs r = evaluate_run_as(pod, c, 1);
  if (r.uid) return *r.uid > 0;
  if (!r.image_users.empty()) return r.image_known_non_root();
  return r.verdict == RunAs::Verdict::kNonRoot;
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  const std::int64_t first_free = unprivileged_port_start(pod);
  for (const ContainerView& c : pod.containers()) {
    if (c.kind == ContainerKind::kEphemeral) continue;
    const auto& ports = json::items(json::field(c.spec, "ports"));
    if (ports.empty()) continue;
    if (!known_non_root(pod, c) || adds_net_bind_service(c)) continue;
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const std::optional<std::int64_t> port = json::as_int(json::field(&ports[i], "containerPort"));
      if (!port || *port <= 0 || *port >= first_free) continue;
      out.add(
          &c, [&] { return pod.container_path(c).key("ports").index(i).key("containerPort"); },
          [&] {
            return "containerPort " + std::to_string(*port) +
                   " is below 1024, which a non-root process cannot bind; listen on a port of 1024 or above "
                   "(e.g. 8000) and map the Service port to it";
          });
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
                  "Checks ports[].containerPort on containers and init containers known to run as non-root "
                  "(effective runAsUser above 0; or runAsUser unset and, when image lookups found the image, its "
                  "USER a UID above 0 on every platform judged, else runAsNonRoot: true). A port below 1024 "
                  "fails unless securityContext.capabilities.add has NET_BIND_SERVICE, or the pod sets the sysctl "
                  "net.ipv4.ip_unprivileged_port_start at or below the port. Containers that may run as root are "
                  "left to run-as-non-root.",
              .rationale =
                  "Binding a port below 1024 needs NET_BIND_SERVICE, so a non-root process fails at startup on "
                  "runtimes that keep the classic limit, and the usual workaround is running as root. The "
                  "contract listens on 8000.",
              .remediation =
                  "Listen on a port of 1024 or above (8000) and let the Service map port 80 to it. Adding "
                  "NET_BIND_SERVICE silences the rule, but Kubernetes grants no ambient capabilities: a non-root "
                  "process only gets it through file capabilities on its binary, which "
                  "allowPrivilegeEscalation: false disables. Lowering net.ipv4.ip_unprivileged_port_start in the "
                  "pod's sysctls works without either.",
          },
      .contract_action = Action::kWarn,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

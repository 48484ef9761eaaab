// probes-required: long-running containers have liveness and readiness
// probes with a handler.
//
// Reads livenessProbe, readinessProbe and startupProbe of spec.containers
// (and of native sidecars, init containers with restartPolicy: Always, when
// includeSidecars). Only for long-running workloads: Deployment,
// StatefulSet, DaemonSet, ReplicaSet, ReplicationController, PodTemplate and
// Pods with restartPolicy Always (the default); Jobs, CronJobs and their
// pods are skipped. A probe counts only with an exec, httpGet, tcpSocket or
// grpc handler; a startupProbe does not stand in for either.
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

bool has_handler(const Json* probe) {
  for (std::string_view h : {"exec", "httpGet", "tcpSocket", "grpc"}) {
    const Json* handler = json::field(probe, h);
    if (handler != nullptr && handler->is_object()) return true;
  }
  return false;
}

void check(const PodView& pod, const RuleParams& params, Findings& out) {
  if (!pod.long_running()) return;
  const bool include_sidecars = params.value("includeSidecars", false);
  for (const ContainerView& c : pod.containers()) {
    const bool wanted = c.kind == ContainerKind::kRegular || (include_sidecars && c.sidecar);
    if (!wanted) continue;
    std::vector<std::string> missing;
    std::vector<std::string> no_handler;
    for (std::string_view name : {"livenessProbe", "readinessProbe"}) {
      const Json* probe = json::field(c.spec, name);
      if (probe == nullptr || probe->is_null()) {
        missing.emplace_back(name);
      } else if (!has_handler(probe)) {
        no_handler.emplace_back(name);
      }
    }
    for (const auto& name : no_handler) {
      out.add(
          &c, [&] { return pod.container_path(c).key(name); },
          [&] {
            return name +
                   " has no handler, so it never runs; give it an httpGet (e.g. path /api/v1/health), "
                   "tcpSocket, grpc or exec handler";
          });
    }
    if (missing.empty()) continue;
    std::string message = missing.size() == 2 ? "no livenessProbe and no readinessProbe"
                                              : "no " + missing.front();
    if (json::field(c.spec, "startupProbe") != nullptr) message += " (a startupProbe does not replace them)";
    message += "; add " + std::string(missing.size() == 2 ? "both" : missing.front()) +
               ", e.g. httpGet on the health endpoint (/api/v1/health)";
    out.add(
        &c, [&] { return pod.container_path(c).key(missing.front()); }, [&] { return std::move(message); });
  }
}

}  // namespace

const Rule& probes_required() {
  static const Rule kRule{
      .doc =
          {
              .id = "probes-required",
              .summary = "A long-running container without liveness and readiness probes.",
              .description =
                  "Checks livenessProbe and readinessProbe on spec.containers of long-running workloads: "
                  "Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, PodTemplate, and Pods "
                  "whose restartPolicy is Always (the default). Jobs, CronJobs and pods they own are skipped, as "
                  "are init and ephemeral containers. Native sidecars (init containers with restartPolicy: "
                  "Always) are checked when includeSidecars is true. A probe counts only with an exec, httpGet, "
                  "tcpSocket or grpc handler, and a startupProbe does not replace either probe.",
              .rationale =
                  "Without a liveness probe a hung process keeps its pod; without a readiness probe traffic is "
                  "sent to pods that are starting or draining, and rolling updates cannot tell a broken release "
                  "from a good one.",
              .remediation =
                  "Add livenessProbe and readinessProbe with an httpGet on the health endpoint (/api/v1/health) "
                  "or a tcpSocket on the serving port. Use a startupProbe in addition for slow starters.",
              .params = {{.name = "includeSidecars",
                          .type = ParamType::kBool,
                          .default_value = false,
                          .description = "Also require probes on native sidecars (init containers with "
                                         "restartPolicy: Always)."}},
          },
      .contract_action = Action::kDeny,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

// drop-all-capabilities: containers drop every Linux capability and add back
// at most NET_BIND_SERVICE.
//
// Reads securityContext.capabilities.drop and .add of every container (init,
// regular, ephemeral; no pod-level field). Fails when drop lacks ALL, or add
// has anything but NET_BIND_SERVICE. Names are compared case-insensitively
// with an optional CAP_ prefix, as the container runtimes do. Windows pods
// are skipped.
#include <cctype>

#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

std::string normalized(std::string_view cap) {
  std::string out;
  for (char c : cap) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (out.rfind("CAP_", 0) == 0) out.erase(0, 4);
  return out;
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  if (pod.is_windows()) return;
  for (const ContainerView& c : pod.containers()) {
    // Paths are built for findings only: most containers have none.
    auto caps_path = [&] { return pod.container_path(c).key("securityContext").key("capabilities"); };
    const Json* caps = json::field(c.spec, {"securityContext", "capabilities"});
    bool drops_all = false;
    for (const Json& d : json::items(json::field(caps, "drop"))) {
      drops_all = drops_all || normalized(json::as_string(&d)) == "ALL";
    }
    if (!drops_all) {
      out.add(
          &c, [&] { return caps_path().key("drop"); },
          [&] {
            return std::string(
                "capabilities.drop does not include ALL (the runtime's defaults, such as NET_RAW, stay); set "
                "securityContext.capabilities.drop: [ALL]");
          });
    }
    const auto& added = json::items(json::field(caps, "add"));
    for (std::size_t i = 0; i < added.size(); ++i) {
      const std::string cap = normalized(json::as_string(&added[i]));
      if (cap == "NET_BIND_SERVICE") continue;
      out.add(
          &c, [&] { return caps_path().key("add").index(i); },
          [&] {
            return "capabilities.add includes " + (cap.empty() ? std::string("a non-string entry") : cap) +
                   "; remove it (only NET_BIND_SERVICE may be added back, and a port of 1024 or above needs "
                   "none)";
          });
    }
  }
}

}  // namespace

const Rule& drop_all_capabilities() {
  static const Rule kRule{
      .doc =
          {
              .id = "drop-all-capabilities",
              .summary = "A container whose capabilities.drop lacks ALL, or that adds anything but "
                         "NET_BIND_SERVICE.",
              .description =
                  "Checks securityContext.capabilities on every container, init container and ephemeral "
                  "container: drop must contain ALL, and add may contain only NET_BIND_SERVICE. Names are "
                  "compared case-insensitively, with or without a CAP_ prefix. Pods with spec.os.name: windows "
                  "are skipped.",
              .rationale =
                  "Container runtimes grant a default set of capabilities (CHOWN, DAC_OVERRIDE, SETUID, NET_RAW, "
                  "...) that an API never needs and an attacker can use, e.g. NET_RAW for spoofing on the pod "
                  "network.",
              .remediation =
                  "Set securityContext.capabilities.drop: [ALL]. Add NET_BIND_SERVICE only if the process must "
                  "bind a port below 1024; better, listen on a high port.",
          },
      .contract_action = Action::kWarn,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

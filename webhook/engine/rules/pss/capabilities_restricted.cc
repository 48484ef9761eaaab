// pss.capabilities_restricted (restricted; replaces pss.capabilities_baseline):
// containers that keep or add capabilities.
//
// Reads:  spec.os.name, and securityContext.capabilities.drop and .add of
//         every container (init, regular, ephemeral).
// Allows: drop containing exactly "ALL", and add holding nothing but
//         NET_BIND_SERVICE; pods with spec.os.name windows are not checked.
#include <algorithm>

#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::string_view kReason = "unrestricted capabilities";

void check(const PodView& pod, const RuleParams&, Findings& out) {
  if (pod.is_windows()) return;
  for (const ContainerView& c : pod.containers()) {
    const FieldPath caps_path = pod.container_path(c).key("securityContext").key("capabilities");
    const Json* caps = json::field(c.spec, {"securityContext", "capabilities"});

    bool drops_all = false;
    bool misspelled_all = false;
    for (const Json& d : json::items(json::field(caps, "drop"))) {
      if (!d.is_string()) continue;
      const std::string_view name = json::as_string(&d);
      if (name == "ALL") drops_all = true;
      if (canonical_capability(name) == "ALL") misspelled_all = true;
    }
    if (!drops_all) {
      std::string remedy =
          "add ALL to securityContext.capabilities.drop (and add back only NET_BIND_SERVICE if "
          "the container binds a port below 1024)";
      if (misspelled_all) {
        remedy = "write ALL in upper case in securityContext.capabilities.drop (capability names are case-sensitive)";
      }
      out.add(&c, caps_path.key("drop"),
              message(kReason, describe(c) + " must set securityContext.capabilities.drop=[\"ALL\"]", remedy));
    }

    const auto& add = json::items(json::field(caps, "add"));
    std::vector<std::string> bad;
    std::size_t first_bad = 0;
    for (std::size_t i = 0; i < add.size(); ++i) {
      if (!add[i].is_string()) continue;
      const std::string_view name = json::as_string(&add[i]);
      if (name == "NET_BIND_SERVICE") continue;
      if (bad.empty()) first_bad = i;
      bad.emplace_back(name);
    }
    if (bad.empty()) continue;
    bad = sorted_unique(std::move(bad));
    std::string remedy = std::string("remove ") + std::string(pluralize("it", "them", bad.size())) +
                         " (restricted allows adding only NET_BIND_SERVICE";
    if (std::any_of(bad.begin(), bad.end(),
                    [](const std::string& b) { return canonical_capability(b) == "NET_BIND_SERVICE"; })) {
      remedy += ", spelled in upper case without the CAP_ prefix";
    }
    remedy += ')';
    out.add(
        &c, caps_path.key("add").index(first_bad),
        message(kReason, describe(c) + " must not include " + join_quoted(bad) + " in securityContext.capabilities.add",
                remedy));
  }
}

}  // namespace

const Rule& capabilities_restricted() {
  static const Rule kRule{
      .doc = {.id = "pss.capabilities_restricted",
              .summary = "A container does not drop ALL capabilities, or adds one other than NET_BIND_SERVICE.",
              .description = "Pod Security Standards restricted check `capabilities_restricted`. Reads "
                             "`securityContext.capabilities` of every init, regular and ephemeral container: `drop` "
                             "must contain `ALL` (exactly so), and `add` may contain only `NET_BIND_SERVICE`. A "
                             "container without `capabilities` fails. Pods with `spec.os.name: windows` are not "
                             "checked. Replaces `pss.capabilities_baseline` at `pss-restricted`. A container can "
                             "have two violations, one for `drop` and one for `add`.",
              .rationale = "Even the container runtime's default capabilities (`CHOWN`, `DAC_OVERRIDE`, `SETUID`, "
                           "`NET_RAW`, ...) widen what a compromised process can do; a container that needs none "
                           "should hold none.",
              .remediation = "Set `securityContext.capabilities.drop: [\"ALL\"]` on every container and add back "
                             "only `NET_BIND_SERVICE`, and only when the process binds a port below 1024.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kRestricted,
      .replaces = "pss.capabilities_baseline",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

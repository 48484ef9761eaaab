// pss.appArmorProfile (baseline): AppArmor profiles that turn confinement off.
//
// Reads:  spec.securityContext.appArmorProfile.type, the same field of every
//         container (init, regular, ephemeral), and every pod annotation whose
//         key starts with container.apparmor.security.beta.kubernetes.io/
//         (the older way to set it; checked whatever the suffix, even when it
//         names no container).
// Allows: field unset, or type RuntimeDefault or Localhost; annotation value
//         "", runtime/default, or localhost/<anything>.
#include <optional>

#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::string_view kReason = "forbidden AppArmor profile";
constexpr std::string_view kAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/";

// The type of a profile that is set and not allowed; nullopt otherwise.
std::optional<std::string_view> forbidden_type(const Json* profile) {
  if (profile == nullptr || profile->is_null()) return std::nullopt;
  const std::string_view type = json::as_string(json::field(profile, "type"));
  if (type == "RuntimeDefault" || type == "Localhost") return std::nullopt;
  return type;
}

bool allowed_annotation(std::string_view value) {
  return value.empty() || value == "runtime/default" || value.substr(0, 10) == "localhost/";
}

void report_field(const PodView& pod, const ContainerView* c, Findings& out) {
  const Json* context = c == nullptr ? pod.pod_security_context() : json::field(c->spec, "securityContext");
  const auto type = forbidden_type(json::field(context, "appArmorProfile"));
  if (!type) return;
  const FieldPath base = c == nullptr ? pod.spec_path() : pod.container_path(*c);
  out.add(c, base.key("securityContext").key("appArmorProfile").key("type"),
          message(kReason, setter(c) + " must not set AppArmor profile type to " + quote(*type),
                  "set securityContext.appArmorProfile.type to RuntimeDefault, or to Localhost with a "
                  "localhostProfile, or remove it"));
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  report_field(pod, nullptr, out);
  for (const ContainerView& c : pod.containers()) report_field(pod, &c, out);

  const Json* annotations = json::field(pod.metadata(), "annotations");
  if (annotations == nullptr || !annotations->is_object()) return;
  for (const auto& [key, value] : annotations->items()) {
    if (key.rfind(kAnnotationPrefix, 0) != 0 || !value.is_string()) continue;
    const std::string_view profile = json::as_string(&value);
    if (allowed_annotation(profile)) continue;
    // Tie the finding to the container the annotation names, when there is
    // one, so that container-scoped exemptions apply to it.
    const std::string_view suffix = std::string_view(key).substr(kAnnotationPrefix.size());
    const ContainerView* named = nullptr;
    for (const ContainerView& c : pod.containers()) {
      if (c.name == suffix) {
        named = &c;
        break;
      }
    }
    out.add(
        named, pod.metadata_path().key("annotations").key(key),
        message(kReason,
                "annotation must not set AppArmor profile type to " +
                    quote(std::string(key) + "=\"" + std::string(profile) + "\""),
                "set the annotation to runtime/default or localhost/<profile>, or replace it with "
                "securityContext.appArmorProfile"));
  }
}

}  // namespace

const Rule& app_armor_profile() {
  static const Rule kRule{
      .doc = {.id = "pss.appArmorProfile",
              .summary = "The pod or a container turns AppArmor confinement off.",
              .description = "Pod Security Standards baseline check `appArmorProfile`. Reads "
                             "`spec.securityContext.appArmorProfile.type` and the same field of every init, regular "
                             "and ephemeral container: when set, the type must be `RuntimeDefault` or `Localhost`. "
                             "Also reads the older pod annotations "
                             "`container.apparmor.security.beta.kubernetes.io/<container>`: the value must be empty, "
                             "`runtime/default` or `localhost/<profile>`.",
              .rationale = "AppArmor confines what a process may touch even when it runs as root; `Unconfined` "
                           "removes that layer of defence.",
              .remediation = "Use `securityContext.appArmorProfile.type: RuntimeDefault` (or `Localhost` with a "
                             "profile loaded on the nodes), or leave it unset; set any remaining annotation to "
                             "`runtime/default` or `localhost/<profile>`.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

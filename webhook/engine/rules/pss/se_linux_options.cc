// pss.seLinuxOptions (baseline): SELinux labels that escape the container
// domain.
//
// Reads:  spec.securityContext.seLinuxOptions and the same field of every
//         container (init, regular, ephemeral): type, user, role.
// Allows: type unset, "", container_t, container_init_t, container_kvm_t or
//         container_engine_t; user and role unset or empty. level is not read.
#include <algorithm>
#include <array>

#include "engine/reading/json_access.h"
#include "engine/rules/pss/pss_checks.h"
#include "engine/rules/pss/pss_messages.h"

namespace podguard::pss {
namespace {

constexpr std::array<std::string_view, 5> kAllowedTypes = {"", "container_t", "container_init_t", "container_kvm_t",
                                                           "container_engine_t"};

void report(const PodView& pod, const ContainerView* c, Findings& out) {
  const Json* context = c == nullptr ? pod.pod_security_context() : json::field(c->spec, "securityContext");
  const Json* options = json::field(context, "seLinuxOptions");
  if (options == nullptr || options->is_null()) return;

  const std::string_view type = json::as_string(json::field(options, "type"));
  const bool bad_type = std::find(kAllowedTypes.begin(), kAllowedTypes.end(), type) == kAllowedTypes.end();
  const bool bad_user = !json::as_string(json::field(options, "user")).empty();
  const bool bad_role = !json::as_string(json::field(options, "role")).empty();
  if (!bad_type && !bad_user && !bad_role) return;

  std::string data;
  std::string remedy;
  std::string_view first_field;
  if (bad_type) {
    data = "type " + quote(type);
    remedy = "set type to container_t, container_init_t, container_kvm_t or container_engine_t (or remove it)";
    first_field = "type";
  }
  for (const auto& [bad, field] : {std::pair{bad_user, "user"}, std::pair{bad_role, "role"}}) {
    if (!bad) continue;
    if (!data.empty()) data += "; ";
    data += std::string(field) + " may not be set";
    if (first_field.empty()) first_field = field;
  }
  if (bad_user || bad_role) {
    if (!remedy.empty()) remedy += " and ";
    remedy += bad_user && bad_role ? "remove user and role" : bad_user ? "remove user" : "remove role";
  }
  const FieldPath base = c == nullptr ? pod.spec_path() : pod.container_path(*c);
  out.add(c, base.key("securityContext").key("seLinuxOptions").key(first_field),
          message("seLinuxOptions", setter(c) + " set forbidden securityContext.seLinuxOptions: " + data, remedy));
}

void check(const PodView& pod, const RuleParams&, Findings& out) {
  report(pod, nullptr, out);
  for (const ContainerView& c : pod.containers()) report(pod, &c, out);
}

}  // namespace

const Rule& se_linux_options() {
  static const Rule kRule{
      .doc = {.id = "pss.seLinuxOptions",
              .summary = "The pod or a container sets a custom SELinux user, role or type.",
              .description = "Pod Security Standards baseline check `seLinuxOptions`. Reads "
                             "`spec.securityContext.seLinuxOptions` and the same field of every init, regular and "
                             "ephemeral container. `type` must be unset, empty, `container_t`, `container_init_t`, "
                             "`container_kvm_t` or `container_engine_t`; `user` and `role` must be unset or empty. "
                             "`level` is not checked.",
              .rationale = "A custom SELinux type, user or role can place the container in a more privileged "
                           "domain (such as `spc_t`) that is not confined by the container policy.",
              .remediation = "Remove `seLinuxOptions.user` and `seLinuxOptions.role`, and leave `type` unset or use "
                             "one of the container types; setting only `level` is fine.",
              .params = {}},
      .contract_action = Action::kOff,
      .pss_level = PssLevel::kBaseline,
      .replaces = "",
      .check = &check,
  };
  return kRule;
}

}  // namespace podguard::pss

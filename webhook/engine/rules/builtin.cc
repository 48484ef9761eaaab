#include "engine/rules/builtin.h"

#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/pss/pss_checks.h"

namespace podguard {

// The one list of built-in rules: a new rule is added here (and declared in
// its folder's header). The order is the order of `podguard rules`, of the
// docs and of findings in every output.
const RuleRegistry& builtin_rules() {
  static const RuleRegistry kRegistry({
      &rules::run_as_non_root(),
      &rules::run_as_non_root_group(),
      &rules::no_privileged(),
      &rules::probes_required(),
      &rules::termination_grace_period(),
      &rules::image_pinned(),
      &rules::no_secret_literals(),
      &rules::read_only_root_filesystem(),
      &rules::host_namespaces(),
      &rules::no_privilege_escalation(),
      &rules::drop_all_capabilities(),
      &rules::seccomp_runtime_default(),
      &rules::resources_required(),
      &rules::privileged_port(),
      // Images: judged on Dockerfiles and image configs.
      &rules::image_user(),
      &rules::image_healthcheck(),
      &rules::image_secrets(),
      &rules::image_labels(),
      &rules::image_build_tools(),
      &rules::dockerfile_exec_form(),
      &rules::image_platform(),
      &rules::image_resolvable(),
      // Pod Security Standards, baseline then restricted, as upstream orders them.
      &pss::app_armor_profile(),
      &pss::capabilities_baseline(),
      &pss::host_namespaces(),
      &pss::host_path_volumes(),
      &pss::host_ports(),
      &pss::host_probes_and_host_lifecycle(),
      &pss::privileged(),
      &pss::proc_mount(),
      &pss::se_linux_options(),
      &pss::seccomp_profile_baseline(),
      &pss::sysctls(),
      &pss::windows_host_process(),
      &pss::allow_privilege_escalation(),
      &pss::capabilities_restricted(),
      &pss::proc_mount_restricted(),
      &pss::restricted_volumes(),
      &pss::run_as_non_root(),
      &pss::run_as_user(),
      &pss::seccomp_profile_restricted(),
  });
  return kRegistry;
}

}  // namespace podguard

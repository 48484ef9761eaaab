// The Kubernetes Pod Security Standards checks (policy version v1.37), one
// per file in this folder, with the upstream check ids prefixed `pss.`.
//
// Each function returns a Rule built once on first use and immutable after;
// safe to share between threads.
#pragma once

#include "engine/policy/rule.h"

namespace podguard::pss {

// baseline
const Rule& app_armor_profile();
const Rule& capabilities_baseline();
const Rule& host_namespaces();
const Rule& host_path_volumes();
const Rule& host_ports();
const Rule& host_probes_and_host_lifecycle();
const Rule& privileged();
const Rule& proc_mount();
const Rule& se_linux_options();
const Rule& seccomp_profile_baseline();
const Rule& sysctls();
const Rule& windows_host_process();
// restricted
const Rule& allow_privilege_escalation();
const Rule& capabilities_restricted();
const Rule& proc_mount_restricted();
const Rule& restricted_volumes();
const Rule& run_as_non_root();
const Rule& run_as_user();
const Rule& seccomp_profile_restricted();

}  // namespace podguard::pss

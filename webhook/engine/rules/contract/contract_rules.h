// The production container contract, one rule per file in this folder.
//
// Each function returns a Rule built once on first use (a function-local
// static) and immutable after; safe to share between threads.
#pragma once

#include "engine/policy/rule.h"

namespace podguard::rules {

const Rule& run_as_non_root();
const Rule& run_as_non_root_group();
const Rule& no_privileged();
const Rule& probes_required();
const Rule& termination_grace_period();
const Rule& image_pinned();
const Rule& no_secret_literals();
const Rule& read_only_root_filesystem();
const Rule& host_namespaces();
const Rule& no_privilege_escalation();
const Rule& drop_all_capabilities();
const Rule& seccomp_runtime_default();
const Rule& resources_required();
const Rule& privileged_port();
// The image half of the contract, judged on Dockerfiles (image-pinned also
// judges every FROM).
const Rule& image_user();
const Rule& image_healthcheck();
const Rule& image_secrets();
const Rule& image_labels();
const Rule& image_build_tools();
const Rule& dockerfile_exec_form();
// Judged on images only (podguard image).
const Rule& image_platform();
const Rule& image_resolvable();

}  // namespace podguard::rules

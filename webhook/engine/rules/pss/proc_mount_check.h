// The procMount finding shared by pss.procMount (baseline, relaxed for
// user-namespaced pods) and pss.procMount_restricted (no relaxation).
//
// Pure functions of a PodView; safe from any number of threads.
#pragma once

#include <string_view>

#include "engine/policy/rule.h"

namespace podguard::pss {

// One finding per container whose securityContext.procMount is set to
// anything but Default; `remedy` is the what-to-set-instead part.
void report_proc_mounts(const PodView& pod, Findings& out, std::string_view remedy);

}  // namespace podguard::pss

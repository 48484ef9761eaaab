// `podguard check` on a Dockerfile: parsed, judged by every rule that has a
// Dockerfile check, and reported like an object (kind Dockerfile, named by
// its path, findings at file:line:col, a finding's container being the
// stage). A file that does not parse is an input error with its line.
//
// Stateless functions over their arguments; safe to call from the check
// workers at once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cli/check_report.h"

namespace podguard::cli {

void check_dockerfile(const Policy& policy, const std::string& file, std::string_view text, const EvalOptions& eval,
                      std::vector<CheckedObject>& objects, std::vector<Status>& errors);

}  // namespace podguard::cli

// Loading the PolicyConfig file for the CLI commands.
//
// Reads one file and builds an immutable Policy; safe from any thread.
#pragma once

#include <optional>
#include <string>

#include "engine/policy/policy.h"

namespace podguard::cli {

// The policy in `path`, or the contract profile's defaults when path is
// empty. On a read or validation error, prints every problem with file,
// line and key to stderr and returns nullopt.
std::optional<Policy> load_policy_file(const std::string& path);

}  // namespace podguard::cli

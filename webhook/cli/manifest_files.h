// The inputs of `podguard check`: files, directories searched recursively
// for *.yaml, *.yml and *.json, and `-` for standard input.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/check_report.h"

namespace podguard::cli {

struct ManifestInput {
  std::string name;  // shown in messages: the path as found, or "<stdin>"
  bool is_stdin = false;
};

struct ExpandedInputs {
  std::vector<ManifestInput> inputs;  // in argument order, directories sorted
  std::vector<Status> errors;     // paths that do not exist or cannot be listed
};

ExpandedInputs expand_inputs(const std::vector<std::string>& args);

// Reads the whole input; an I/O error Status naming the file otherwise.
Result<std::string> read_input(const ManifestInput& input);

}  // namespace podguard::cli

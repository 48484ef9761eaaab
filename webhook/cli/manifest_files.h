// The inputs of `podguard check`: files, directories searched recursively
// for *.yaml, *.yml, *.json and Dockerfiles, and `-` for standard input.
//
// expand_inputs and read_input touch only the files they are given; safe from
// several threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/check_report.h"

namespace podguard::cli {

struct ManifestInput {
  std::string name;  // shown in messages: the path as found, or "<stdin>"
  bool is_stdin = false;
  bool dockerfile = false;  // read as a Dockerfile (is_dockerfile_name), not as manifests
};

// Dockerfile, Containerfile (any case), *.Dockerfile, *.Containerfile,
// Dockerfile.* and Containerfile.*, except BuildKit's per-Dockerfile
// ignore files (Dockerfile.dockerignore).
bool is_dockerfile_name(std::string_view filename);

struct ExpandedInputs {
  std::vector<ManifestInput> inputs;  // in argument order, directories sorted
  std::vector<Status> errors;     // paths that do not exist or cannot be listed
};

ExpandedInputs expand_inputs(const std::vector<std::string>& args);

// Reads the whole input; an I/O error Status naming the file otherwise.
// Standard input is read on the first call and kept for the process: later
// calls get the same text.
Result<std::string> read_input(const ManifestInput& input);

}  // namespace podguard::cli

// Wording shared by the rules that judge Dockerfiles, so every message names
// stages and suggests exec forms the same way.
//
// Pure functions; safe from any number of threads.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/facts/dockerfile_facts.h"

namespace podguard::rules {

// `the final stage "runtime"`, `stage "build", which the final stage
// "runtime" is built FROM`, or `stage "test"`.
std::string stage_phrase(const DockerfileFacts& dockerfile, std::size_t stage);

// ["a", "b"], as a JSON (exec) form is written.
std::string json_array(const std::vector<std::string>& items);

// "A, B and C".
std::string join_names(const std::vector<std::string>& names);

}  // namespace podguard::rules

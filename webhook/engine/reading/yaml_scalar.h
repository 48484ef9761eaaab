// How a YAML scalar becomes a JSON value: the YAML 1.1 rules that kubectl
// applies (through sigs.k8s.io/yaml), so `yes` and `on` are booleans, `~` is
// null and `0x1F` is an integer, while anything quoted stays a string.
#pragma once

#include <string>

#include "engine/reading/document.h"

namespace podguard {

// `tag` is what yaml-cpp reports: "?" for a plain scalar, "!" for a quoted or
// block scalar, or an explicit tag such as "tag:yaml.org,2002:int".
// On a value its tag cannot hold, returns null and sets `error`.
Json resolve_yaml_scalar(const std::string& tag, const std::string& value, std::string& error);

}  // namespace podguard

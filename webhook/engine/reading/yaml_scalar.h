// How a YAML scalar becomes a JSON value: the YAML 1.1 rules that kubectl
// applies (through sigs.k8s.io/yaml), so `yes` and `on` are booleans, `~` is
// null and `0x1F` is an integer, while anything quoted stays a string.
//
// Pure functions; safe from any number of threads.
#pragma once

#include <string>

#include "engine/reading/document.h"

namespace podguard {

// `tag` is what yaml-cpp reports: "?" for a plain scalar, "!" for a quoted or
// block scalar, or an explicit tag such as "tag:yaml.org,2002:int".
// A float with an integral value becomes an integer, as kubectl sends it
// (kubectl_number). A value its tag cannot hold is an invalid-input Status.
Result<Json> resolve_yaml_scalar(const std::string& tag, const std::string& value);

// A plain (unquoted) mapping key as kubectl writes it in JSON: YAML 1.1 reads
// `yes`, `on` and `y` as booleans and `0x1F` as a number, and sigs.k8s.io/yaml
// writes such keys back as "true" and "31". Other keys are unchanged.
std::string plain_key_as_kubectl_writes(const std::string& key);

}  // namespace podguard

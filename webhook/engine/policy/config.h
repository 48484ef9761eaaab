// The PolicyConfig file (apiVersion podguard.io/v1alpha1), read by both
// `podguard check` and `podguard serve`. Validation is strict: an unknown
// key, a wrong type, a bad action, glob or date is an error that names the
// line, the column and the key. Every error is reported, not just the first.
//
// The engine does not read files: callers pass the text and the name to
// show in messages.
//
// load_config is a pure function of its text and registry; safe to call from
// several threads (the webhook reloads on a watcher thread while workers
// judge with the previous Policy).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/policy/policy.h"

namespace podguard {

inline constexpr std::string_view kConfigApiVersion = "podguard.io/v1alpha1";
inline constexpr std::string_view kConfigKind = "PolicyConfig";


struct ConfigLoad {
  std::optional<Policy> policy;  // set when there are no errors
  // Invalid-input Statuses with the line, the column and the dotted key
  // (e.g. rules.image-pinned.requireDigest), in file order.
  std::vector<Status> errors;
};

// Reads a PolicyConfig for the rules of `registry`.
ConfigLoad load_config(std::string_view text, const RuleRegistry& registry);

// "file:line:col: key: message", one line each.
std::string format_config_errors(std::string_view source_name, const std::vector<Status>& errors);

}  // namespace podguard

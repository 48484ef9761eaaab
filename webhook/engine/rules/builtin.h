// Every rule podguard ships: the contract rules (contract/) and the Pod
// Security Standards checks (pss/), in one registry. Callers above the rules
// layer (admission, the server, the CLI) build policies and load configs
// against it: Policy::defaults(builtin_rules()), load_config(text,
// builtin_rules()).
//
// Created on first use and immutable after that; safe to share between
// threads.
#pragma once

#include "engine/policy/registry.h"

namespace podguard {

const RuleRegistry& builtin_rules();

}  // namespace podguard

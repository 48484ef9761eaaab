// A set of rules, and the profiles that give each a default action. The
// registry checks itself when built (unique ids, complete docs, sane
// params). The rules podguard ships are listed one layer up, in
// engine/rules/builtin.h; tests may build registries of their own.
//
// Immutable once built; safe to share between threads.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/policy/rule.h"

namespace podguard {

enum class Profile { kContract, kPssBaseline, kPssRestricted };

std::string_view to_string(Profile p);
std::optional<Profile> parse_profile(std::string_view s);

class RuleRegistry {
 public:
  // Throws std::invalid_argument naming the first problem: a duplicate or
  // malformed id, a missing doc field, a duplicate parameter.
  explicit RuleRegistry(std::vector<const Rule*> rules);

  const std::vector<const Rule*>& rules() const { return rules_; }
  std::size_t size() const { return rules_.size(); }
  const Rule& at(std::size_t i) const { return *rules_[i]; }
  std::optional<std::size_t> index_of(std::string_view id) const;

  // The action a rule has when the config does not set one.
  Action default_action(std::size_t rule, Profile profile) const;

 private:
  std::vector<const Rule*> rules_;
  std::vector<bool> replaced_at_restricted_;
};

}  // namespace podguard

// A loaded policy: which rules run at which action with which parameters,
// per-namespace overrides, and exemptions. Built from a PolicyConfig file by
// config.h, or from a profile's defaults.
//
// A Policy is immutable once built; share it between threads through a
// shared_ptr<const Policy> and swap the pointer to reload.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/policy/registry.h"

namespace podguard {

// A calendar day as days since 1970-01-01 (UTC).
using Day = long;

// Parses YYYY-MM-DD; nullopt when it is not a real date.
std::optional<Day> parse_day(std::string_view s);
std::string format_day(Day d);
Day today_utc();

struct RuleSetting {
  Action action = Action::kOff;
  RuleParams params = Json::object();  // every declared parameter, defaults filled in
};

struct NamespaceOverride {
  struct Change {
    std::size_t rule = 0;
    std::optional<Action> action;
    Json params = Json::object();  // only the parameters the override sets
  };
  std::vector<std::string> namespaces;  // globs
  std::vector<Change> changes;
  SourcePos pos;
};

struct Exemption {
  std::vector<std::size_t> rules;  // registry indexes; empty means every rule
  // Globs; an empty list matches anything. With containers or images set,
  // the exemption covers only findings on matching containers.
  std::vector<std::string> namespaces;
  std::vector<std::string> names;
  std::vector<std::string> containers;
  std::vector<std::string> images;
  std::string reason;
  std::optional<Day> expires;  // last day the exemption applies
  SourcePos pos;
};

// The `images:` block: whether and how image configs are looked up in
// registries (DESIGN.md, "Images: the other half of the contract"). Plain
// settings: the engine never reaches the network; the CLI and the server
// turn them into the registry client's options.
struct ImageSettings {
  // What a lookup that fails (the registry errs, refuses, or is not reached
  // within the budget) does to the image's verdict.
  enum class OnError { kAllow, kWarn, kDeny };

  bool lookup = false;           // look images up at admission and in podguard check
  double timeout_seconds = 2;    // budget for all lookups of one review
  OnError on_error = OnError::kWarn;
  std::vector<std::string> platforms = {"linux/amd64"};  // os/arch[/variant]
  std::string credentials;       // path of a docker config.json; empty: none
  std::string ca_file;           // PEM file of extra CAs; empty: the system's only
  std::vector<std::string> insecure_registries;  // host[:port] spoken to over plain HTTP
  std::vector<std::pair<std::string, std::string>> mirrors;  // registry -> mirror, in file order
  int tag_ttl_seconds = 300;
  int error_ttl_seconds = 30;
  std::int64_t max_entries = 10000;
};

std::string_view to_string(ImageSettings::OnError e);

struct Policy {
  // The rules this policy configures; never null in a policy built by
  // defaults() or load_config(). Registries live for the whole program.
  const RuleRegistry* registry = nullptr;
  Profile profile = Profile::kContract;
  std::vector<RuleSetting> rules;  // indexed like *registry
  std::vector<NamespaceOverride> overrides;
  std::vector<Exemption> exemptions;
  bool allow_annotation_exemptions = true;
  ImageSettings images;

  // The profile's default actions and every parameter's default.
  static Policy defaults(const RuleRegistry& registry, Profile profile = Profile::kContract);

  // Settings in force for objects in `ns`: the base settings with every
  // matching override applied in order (later overrides win).
  std::vector<RuleSetting> settings_for(std::string_view ns) const;
  bool has_override_for(std::string_view ns) const;
};

}  // namespace podguard

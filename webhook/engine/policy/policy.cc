#include "engine/policy/policy.h"

#include <charconv>
#include <chrono>
#include <cstdio>

#include "engine/policy/glob.h"

namespace podguard {

std::string_view to_string(ImageSettings::OnError e) {
  switch (e) {
    case ImageSettings::OnError::kAllow:
      return "allow";
    case ImageSettings::OnError::kWarn:
      return "warn";
    case ImageSettings::OnError::kDeny:
      return "deny";
  }
  return "warn";
}

std::optional<Day> parse_day(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  auto number = [s](std::size_t at, std::size_t len) -> std::optional<unsigned> {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data() + at, s.data() + at + len, v);
    if (ec != std::errc() || end != s.data() + at + len) return std::nullopt;
    return v;
  };
  auto y = number(0, 4);
  auto m = number(5, 2);
  auto d = number(8, 2);
  if (!y || !m || !d) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(static_cast<int>(*y)), std::chrono::month(*m),
                                        std::chrono::day(*d)};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days(ymd).time_since_epoch().count();
}

std::string format_day(Day d) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days(std::chrono::days(d))};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

Day today_utc() {
  return std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()).time_since_epoch().count();
}

Policy Policy::defaults(const RuleRegistry& registry, Profile profile) {
  Policy p;
  p.registry = &registry;
  p.profile = profile;
  p.rules.resize(registry.size());
  for (std::size_t i = 0; i < registry.size(); ++i) {
    p.rules[i].action = registry.default_action(i, profile);
    for (const ParamSpec& spec : registry.at(i).doc.params) {
      p.rules[i].params[std::string_view(spec.name)] = spec.default_value;
    }
  }
  return p;
}

bool Policy::has_override_for(std::string_view ns) const {
  for (const auto& o : overrides) {
    if (glob_match_any(o.namespaces, ns)) return true;
  }
  return false;
}

std::vector<RuleSetting> Policy::settings_for(std::string_view ns) const {
  std::vector<RuleSetting> out = rules;
  for (const auto& o : overrides) {
    if (!glob_match_any(o.namespaces, ns)) continue;
    for (const auto& change : o.changes) {
      RuleSetting& s = out[change.rule];
      if (change.action) s.action = *change.action;
      for (const auto& [k, v] : change.params.items()) s.params[k] = v;
    }
  }
  return out;
}

}  // namespace podguard

#include "engine/policy/registry.h"

#include <set>
#include <stdexcept>


namespace podguard {

std::string_view to_string(Profile p) {
  switch (p) {
    case Profile::kContract:
      return "contract";
    case Profile::kPssBaseline:
      return "pss-baseline";
    case Profile::kPssRestricted:
      return "pss-restricted";
  }
  return "contract";
}

std::optional<Profile> parse_profile(std::string_view s) {
  if (s == "contract") return Profile::kContract;
  if (s == "pss-baseline") return Profile::kPssBaseline;
  if (s == "pss-restricted") return Profile::kPssRestricted;
  return std::nullopt;
}

namespace {

bool valid_id(const Rule& rule) {
  std::string_view id = rule.doc.id;
  if (rule.pss_level != PssLevel::kNone) {
    // pss.<upstream camelCase id, possibly with _baseline/_restricted>
    if (id.substr(0, 4) != "pss." || id.size() == 4) return false;
    for (char c : id.substr(4)) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')) return false;
    }
    return true;
  }
  if (id.empty() || id.front() == '-' || id.back() == '-') return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

RuleRegistry::RuleRegistry(std::vector<const Rule*> rules) : rules_(std::move(rules)) {
  std::set<std::string_view> ids;
  for (const Rule* r : rules_) {
    if (r == nullptr) throw std::invalid_argument("rule registry: null rule");
    const RuleDoc& d = r->doc;
    if (!valid_id(*r)) throw std::invalid_argument("rule registry: malformed rule id \"" + d.id + "\"");
    if (!ids.insert(d.id).second) throw std::invalid_argument("rule registry: duplicate rule id \"" + d.id + "\"");
    if (d.summary.empty() || d.description.empty() || d.rationale.empty() || d.remediation.empty()) {
      throw std::invalid_argument("rule registry: rule \"" + d.id + "\" lacks documentation");
    }
    if (r->check == nullptr && r->dockerfile_check == nullptr && r->image_check == nullptr) {
      throw std::invalid_argument("rule registry: rule \"" + d.id + "\" has no check");
    }
    if (r->pss_level != PssLevel::kNone && r->contract_action != Action::kOff) {
      throw std::invalid_argument("rule registry: PSS check \"" + d.id + "\" must be off in the contract profile");
    }
    std::set<std::string_view> params;
    for (const ParamSpec& p : d.params) {
      if (p.name.empty() || p.description.empty() || p.name == "action" || !params.insert(p.name).second) {
        throw std::invalid_argument("rule registry: rule \"" + d.id + "\" has a bad parameter \"" + p.name + "\"");
      }
    }
  }
  replaced_at_restricted_.assign(rules_.size(), false);
  for (const Rule* r : rules_) {
    if (r->replaces.empty()) continue;
    auto replaced = index_of(r->replaces);
    if (!replaced || r->pss_level != PssLevel::kRestricted) {
      throw std::invalid_argument("rule registry: \"" + r->doc.id + "\" replaces unknown check \"" + r->replaces + "\"");
    }
    replaced_at_restricted_[*replaced] = true;
  }
}

std::optional<std::size_t> RuleRegistry::index_of(std::string_view id) const {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i]->doc.id == id) return i;
  }
  return std::nullopt;
}

Action RuleRegistry::default_action(std::size_t rule, Profile profile) const {
  const Rule& r = *rules_[rule];
  switch (profile) {
    case Profile::kContract:
      return r.contract_action;
    case Profile::kPssBaseline:
      return r.pss_level == PssLevel::kBaseline ? Action::kDeny : Action::kOff;
    case Profile::kPssRestricted:
      if (r.pss_level == PssLevel::kRestricted) return Action::kDeny;
      if (r.pss_level == PssLevel::kBaseline && !replaced_at_restricted_[rule]) return Action::kDeny;
      return Action::kOff;
  }
  return Action::kOff;
}

}  // namespace podguard

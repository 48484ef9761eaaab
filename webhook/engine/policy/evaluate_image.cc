#include "engine/policy/evaluate_image.h"

#include <algorithm>

#include "engine/policy/glob.h"

namespace podguard {
namespace {

// The config exemption that covers a finding, under the meanings listed in
// evaluate_image.h.
const Exemption* config_covering(const Policy& policy, std::size_t rule, std::string_view reference,
                                 const std::optional<std::string>& platform, Day today) {
  for (const Exemption& e : policy.exemptions) {
    if (e.expires && today > *e.expires) continue;
    if (!e.rules.empty() && std::find(e.rules.begin(), e.rules.end(), rule) == e.rules.end()) continue;
    if (!e.namespaces.empty()) continue;
    if (!e.names.empty() && !glob_match_any(e.names, reference)) continue;
    if (!e.images.empty() && !glob_match_any(e.images, reference)) continue;
    if (!e.containers.empty() && !(platform && glob_match_any(e.containers, *platform))) continue;
    return &e;
  }
  return nullptr;
}

ObjectVerdict judge(const Policy& policy, const ImageSubject& subject, const EvalOptions& options) {
  ObjectVerdict v;
  v.kind = "Image";
  v.name = std::string(subject.reference);
  v.checked = true;
  const RuleRegistry& registry = *policy.registry;
  const ImageJudgement judged = judge_image(policy, subject);
  for (std::size_t i = 0; i < registry.size(); ++i) {
    const Rule& rule = registry.at(i);
    const RuleSetting& setting = policy.rules[i];
    for (const ImageFindings::Entry& f : judged.by_rule[i]) {
      std::optional<std::string> platform;
      if (subject.facts != nullptr && f.image < subject.facts->images.size()) {
        platform = subject.facts->images[f.image].platform.to_string();
      }
      if (const Exemption* e = config_covering(policy, i, subject.reference, platform, options.today)) {
        v.exempted.push_back(AppliedExemption{rule.doc.id, e->reason, "config", setting.action, platform, f.path});
        continue;
      }
      v.violations.push_back(Violation{rule.doc.id, setting.action, platform, f.path, f.message});
    }
  }
  return v;
}

}  // namespace

Action unreachable_image_action(const Policy& policy, Action rule_action) {
  Action on_error = Action::kOff;
  switch (policy.images.on_error) {
    case ImageSettings::OnError::kAllow:
      on_error = Action::kOff;
      break;
    case ImageSettings::OnError::kWarn:
      on_error = Action::kWarn;
      break;
    case ImageSettings::OnError::kDeny:
      on_error = Action::kDeny;
      break;
  }
  return std::min(on_error, rule_action);
}

std::string unreachable_image_message(const Policy& policy, Action action, std::string_view registry,
                                      std::string_view reason) {
  const std::string on_error(to_string(policy.images.on_error));
  std::string out = "the image could not be looked up in " +
                    (registry.empty() ? std::string("its registry") : std::string(registry)) + ": " +
                    std::string(reason) + " (images.onError: " + on_error;
  if (on_error == to_string(action)) {
    out += " makes this a " + on_error + " finding";
  } else {
    out += ", but " + std::string(kImageLookupRule) + " is at " + std::string(to_string(action)) +
           " here, so this is a " + std::string(to_string(action)) + " finding";
  }
  return out + "; allow would judge nothing)";
}

ObjectVerdict evaluate_unreachable_image(const Policy& policy, std::string_view reference,
                                         std::string_view registry, std::string_view reason,
                                         const EvalOptions& options) {
  ObjectVerdict v;
  v.kind = "Image";
  v.name = std::string(reference);
  v.checked = true;
  const std::optional<std::size_t> rule = policy.registry->index_of(kImageLookupRule);
  if (!rule) return v;
  const Action action = unreachable_image_action(policy, policy.rules[*rule].action);
  if (action == Action::kOff) return v;
  const std::string id(kImageLookupRule);
  if (const Exemption* e = config_covering(policy, *rule, reference, std::nullopt, options.today)) {
    v.exempted.push_back(AppliedExemption{id, e->reason, "config", action, std::nullopt, FieldPath()});
    return v;
  }
  v.violations.push_back(
      Violation{id, action, std::nullopt, FieldPath(), unreachable_image_message(policy, action, registry, reason)});
  return v;
}

ObjectVerdict evaluate_image(const Policy& policy, std::string_view reference, const ImageFacts& facts,
                             const EvalOptions& options) {
  return judge(policy, ImageSubject{reference, &facts, {}}, options);
}

ObjectVerdict evaluate_missing_image(const Policy& policy, std::string_view reference, std::string_view reason,
                                     const EvalOptions& options) {
  return judge(policy, ImageSubject{reference, nullptr, reason}, options);
}

}  // namespace podguard

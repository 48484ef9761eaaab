#include "engine/policy/rule.h"

namespace podguard {

std::string_view to_string(Action a) {
  switch (a) {
    case Action::kOff:
      return "off";
    case Action::kAudit:
      return "audit";
    case Action::kWarn:
      return "warn";
    case Action::kDeny:
      return "deny";
  }
  return "off";
}

std::optional<Action> parse_action(std::string_view s) {
  if (s == "off") return Action::kOff;
  if (s == "audit") return Action::kAudit;
  if (s == "warn") return Action::kWarn;
  if (s == "deny") return Action::kDeny;
  return std::nullopt;
}

std::vector<std::string_view> judged_inputs(const Rule& rule) {
  std::vector<std::string_view> out;
  if (rule.check != nullptr) out.emplace_back("pods");
  if (rule.dockerfile_check != nullptr) out.emplace_back("Dockerfiles");
  if (rule.image_check != nullptr) out.emplace_back("images");
  return out;
}

std::string describe(const ContainerView& c) {
  std::string out;
  if (c.kind == ContainerKind::kInit) out = c.sidecar ? "sidecar container " : "init container ";
  if (c.kind == ContainerKind::kRegular) out = "container ";
  if (c.kind == ContainerKind::kEphemeral) out = "ephemeral container ";
  out += '"';
  out += c.name;
  out += '"';
  return out;
}

}  // namespace podguard

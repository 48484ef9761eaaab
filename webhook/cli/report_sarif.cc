// SARIF 2.1.0 for code scanning: one result per violation with its file
// region; exempted findings are results with an accepted suppression; input
// errors are tool execution notifications.
#include <ostream>

#include "cli/check_report.h"
#include "engine/policy/registry.h"
#include "engine/rules/builtin.h"

namespace podguard::cli {
namespace {

using OJson = nlohmann::ordered_json;

std::string level(Action a) {
  switch (a) {
    case Action::kDeny:
      return "error";
    case Action::kWarn:
      return "warning";
    case Action::kAudit:
      return "note";
    case Action::kOff:
      return "none";
  }
  return "none";
}

// A relative path becomes a relative URI reference; an absolute one a file:
// URI. Everything outside RFC 3986's unreserved set (and '/') is escaped.
std::string uri(const std::string& path) {
  if (path == "<stdin>") return "stdin";
  static const char* kHex = "0123456789ABCDEF";
  std::string out = path.empty() || path[0] != '/' ? "" : "file://";
  for (unsigned char c : path) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

OJson location(const std::string& file, const SourcePos& pos, const ObjectVerdict* object, const FieldPath* path) {
  OJson physical = {{"artifactLocation", {{"uri", uri(file)}}}};
  if (pos.known()) physical["region"] = {{"startLine", pos.line}, {"startColumn", pos.column}};
  OJson loc = {{"physicalLocation", std::move(physical)}};
  if (object != nullptr && path != nullptr) {
    loc["logicalLocations"] = OJson::array(
        {{{"fullyQualifiedName", object->display_name() + " " + path->str()}, {"kind", "object"}}});
  }
  return loc;
}

std::string message(const CheckedObject& o, const std::optional<std::string>& container, const std::string& text) {
  std::string out = o.verdict.display_name();
  if (container) out += std::string(" ") + container_word(o) + " \"" + *container + "\"";
  return out + ": " + text;
}

// What a rule judges, for code scanning's filters.
OJson tags(const Rule& rule) {
  OJson out = OJson::array();
  if (rule.check != nullptr) out.push_back("kubernetes");
  if (rule.dockerfile_check != nullptr) out.push_back("dockerfile");
  if (rule.image_check != nullptr) out.push_back("image");
  out.push_back("security");
  return out;
}

}  // namespace

void write_sarif(const CheckReport& report, std::ostream& out) {
  const RuleRegistry& registry = builtin_rules();
  OJson rules = OJson::array();
  for (const Rule* r : registry.rules()) {
    const Action default_action = r->pss_level == PssLevel::kNone ? r->contract_action : Action::kDeny;
    rules.push_back({{"id", r->doc.id},
                     {"name", r->doc.id},
                     {"shortDescription", {{"text", r->doc.summary}}},
                     {"fullDescription", {{"text", r->doc.description}}},
                     {"help", {{"text", r->doc.rationale + "\nFix: " + r->doc.remediation}}},
                     {"defaultConfiguration", {{"level", level(default_action)}}},
                     {"properties", {{"tags", tags(*r)}}}});
  }
  OJson results = OJson::array();
  for (const CheckedObject& o : report.objects) {
    const ObjectVerdict& v = o.verdict;
    for (std::size_t i = 0; i < v.violations.size(); ++i) {
      const Violation& x = v.violations[i];
      results.push_back({{"ruleId", x.rule},
                         {"ruleIndex", registry.index_of(x.rule).value_or(0)},
                         {"level", level(x.action)},
                         {"message", {{"text", message(o, x.container, x.message)}}},
                         {"locations", OJson::array({location(o.file, o.violation_pos[i], &v, &x.path)})}});
    }
    for (std::size_t i = 0; i < v.exempted.size(); ++i) {
      const AppliedExemption& e = v.exempted[i];
      results.push_back(
          {{"ruleId", e.rule},
           {"ruleIndex", registry.index_of(e.rule).value_or(0)},
           {"level", level(e.action)},
           {"message", {{"text", message(o, e.container, "exempted by " + e.source + ": " + e.reason)}}},
           {"locations", OJson::array({location(o.file, o.exemption_pos[i], &v, &e.path)})},
           {"suppressions", OJson::array({{{"kind", "external"}, {"status", "accepted"}, {"justification", e.reason}}})}});
    }
  }
  OJson notifications = OJson::array();
  for (const Status& e : report.errors) {
    notifications.push_back({{"level", "error"},
                             {"message", {{"text", e.message()}}},
                             {"locations", OJson::array({location(e.file(), e.pos(), nullptr, nullptr)})}});
  }
  OJson run = {{"tool",
                {{"driver",
                  {{"name", "podguard"},
                   {"version", PODGUARD_VERSION},
                   {"informationUri", "https://github.com/podguard/podguard"},
                   {"rules", std::move(rules)}}}}},
               {"invocations", OJson::array({{{"executionSuccessful", report.errors.empty()},
                                              {"toolExecutionNotifications", std::move(notifications)}}})},
               {"columnKind", "unicodeCodePoints"},
               {"results", std::move(results)}};
  OJson doc = {{"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
               {"version", "2.1.0"},
               {"runs", OJson::array({std::move(run)})}};
  out << doc.dump(2, ' ', false, OJson::error_handler_t::replace) << '\n';
}

}  // namespace podguard::cli

// The stable machine interface of `podguard check -o json` (see DESIGN.md):
// {"summary": {...}, "results": [...], "errors": [...]}.
#include <ostream>
#include <set>

#include "cli/check_report.h"

namespace podguard::cli {

void write_json(const CheckReport& report, std::ostream& out) {
  const CheckSummary s = report.summary();
  using OJson = nlohmann::ordered_json;
  OJson doc;
  doc["summary"] = {{"objects", s.objects},
                    {"checked", s.checked},
                    {"skipped", s.skipped},
                    {"denied", s.denied},
                    {"warned", s.warned}};
  OJson results = OJson::array();
  for (const CheckedObject& o : report.objects) {
    const ObjectVerdict& v = o.verdict;
    if (!v.checked) continue;
    OJson violations = OJson::array();
    for (std::size_t i = 0; i < v.violations.size(); ++i) {
      const Violation& x = v.violations[i];
      violations.push_back({{"rule", x.rule},
                            {"action", to_string(x.action)},
                            {"container", x.container ? OJson(*x.container) : OJson(nullptr)},
                            {"path", x.path.str()},
                            {"line", o.violation_pos[i].line},
                            {"column", o.violation_pos[i].column},
                            {"message", x.message}});
    }
    OJson exempted = OJson::array();
    std::set<std::pair<std::string, std::string>> seen;
    for (const AppliedExemption& e : v.exempted) {
      if (seen.emplace(e.rule, e.reason).second) exempted.push_back({{"rule", e.rule}, {"reason", e.reason}});
    }
    results.push_back({{"file", o.file},
                       {"line", o.pos.line},
                       {"kind", v.kind},
                       {"namespace", v.ns},
                       {"name", v.name},
                       {"violations", std::move(violations)},
                       {"exempted", std::move(exempted)}});
  }
  doc["results"] = std::move(results);
  OJson errors = OJson::array();
  for (const Status& e : report.errors) {
    errors.push_back({{"file", e.file()},
                      {"line", e.pos().known() ? OJson(e.pos().line) : OJson(nullptr)},
                      {"column", e.pos().known() ? OJson(e.pos().column) : OJson(nullptr)},
                      {"message", e.message()}});
  }
  doc["errors"] = std::move(errors);
  out << doc.dump(2, ' ', false, OJson::error_handler_t::replace) << '\n';
}

}  // namespace podguard::cli

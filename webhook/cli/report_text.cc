// Human-readable report: one line per finding, compiler style, so editors
// and CI annotators can jump to the offending field.
#include <ostream>
#include <set>
#include <tuple>

#include "cli/check_report.h"

namespace podguard::cli {
namespace {

// "file:line:col: "; an image has no lines: "reference: ".
void location(std::ostream& out, const CheckedObject& o, const SourcePos& pos) {
  out << o.file;
  if (!o.image) out << ':' << std::max(pos.line, 1) << ':' << std::max(pos.column, 1);
  out << ": ";
}

// "Deployment shop/web container "app": "; a Dockerfile's path is the file
// already shown, so "Dockerfile stage "runtime": ".
void subject(std::ostream& out, const CheckedObject& o, const std::optional<std::string>& container) {
  out << (o.dockerfile || o.image ? o.verdict.kind : o.verdict.display_name());
  if (container) out << ' ' << container_word(o) << " \"" << *container << '"';
  out << ": ";
}

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

void write_text(const CheckReport& report, std::ostream& out) {
  for (const CheckedObject& o : report.objects) {
    const ObjectVerdict& v = o.verdict;
    for (std::size_t i = 0; i < v.violations.size(); ++i) {
      const Violation& x = v.violations[i];
      location(out, o, o.violation_pos[i]);
      out << to_string(x.action) << '[' << x.rule << "] ";
      subject(out, o, x.container);
      out << x.message << '\n';
    }
    // One line per exempted rule, reason and container, at its first finding.
    std::set<std::tuple<std::string, std::string, std::string>> shown;
    for (std::size_t i = 0; i < v.exempted.size(); ++i) {
      const AppliedExemption& e = v.exempted[i];
      if (!shown.emplace(e.rule, e.reason, e.container.value_or("")).second) continue;
      location(out, o, o.exemption_pos[i]);
      out << "exempt[" << e.rule << "] ";
      subject(out, o, e.container);
      out << "exempted by " << e.source << ": " << e.reason << '\n';
    }
    for (const std::string& note : v.notes) {
      location(out, o, o.pos);
      out << "note: ";
      subject(out, o, std::nullopt);
      out << note << '\n';
    }
  }
  const CheckSummary s = report.summary();
  out << "podguard: " << plural(s.objects, "object") << " (" << s.checked << " checked, " << s.skipped
      << " skipped): " << s.denied << " denied, " << s.warned << " warned; " << s.deny_violations << " deny, "
      << s.warn_violations << " warn, " << s.audit_violations << " audit; " << plural(s.exemptions, "exemption")
      << " applied";
  if (!report.errors.empty()) out << "; " << plural(report.errors.size(), "input error");
  out << '\n';
}

}  // namespace podguard::cli

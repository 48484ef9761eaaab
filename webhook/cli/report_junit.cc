// JUnit XML for CI dashboards: one test suite per input file, one test case
// per object. A case fails when it has violations at or above --fail-on;
// other findings and exemptions go to its system-out. Kinds without a pod
// spec are skipped cases; unparseable input is an error case.
#include <map>
#include <ostream>
#include <sstream>

#include "cli/check_report.h"

namespace podguard::cli {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0 && c >= 0xC2) n = 2;
  else if ((c & 0xF0) == 0xE0) n = 3;
  else if ((c & 0xF8) == 0xF0 && c <= 0xF4) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// Escapes for XML text and attributes, dropping characters XML 1.0 forbids
// and replacing bytes that are not UTF-8.
std::string xml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      const std::size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (c < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') continue;
        out += ch;
    }
  }
  return out;
}

struct Suite {
  std::vector<const CheckedObject*> objects;
  std::vector<const Status*> errors;
};

std::string finding_line(const CheckedObject& o, std::size_t i) {
  const Violation& v = o.verdict.violations[i];
  std::ostringstream s;
  s << o.file << ':' << o.violation_pos[i].line << ':' << o.violation_pos[i].column << ": " << to_string(v.action)
    << '[' << v.rule << "] ";
  if (v.container) s << container_word(o) << " \"" << *v.container << "\" ";
  s << v.path.str() << ": " << v.message << '\n';
  return s.str();
}

}  // namespace

void write_junit(const CheckReport& report, FailOn threshold, std::ostream& out) {
  std::vector<std::string> order;
  std::map<std::string, Suite> suites;
  auto suite = [&](const std::string& file) -> Suite& {
    auto [it, inserted] = suites.try_emplace(file);
    if (inserted) order.push_back(file);
    return it->second;
  };
  for (const std::string& f : report.files) suite(f);
  for (const CheckedObject& o : report.objects) suite(o.file).objects.push_back(&o);
  for (const Status& e : report.errors) suite(e.file()).errors.push_back(&e);

  std::size_t total = 0, failures = 0, errors = 0, skipped = 0;
  std::ostringstream body;
  for (const std::string& file : order) {
    const Suite& s = suites[file];
    std::size_t s_failures = 0, s_skipped = 0;
    std::ostringstream cases;
    for (const CheckedObject* o : s.objects) {
      const ObjectVerdict& v = o->verdict;
      cases << "    <testcase classname=\"" << xml(file) << "\" name=\"" << xml(v.display_name()) << "\" file=\""
            << xml(file) << "\" line=\"" << o->pos.line << "\">\n";
      if (!v.checked) {
        ++s_skipped;
        cases << "      <skipped message=\"" << xml(v.kind.empty() ? "object" : v.kind)
              << " has no pod spec\"/>\n";
      } else {
        std::string failing, other;
        std::size_t count = 0;
        for (std::size_t i = 0; i < v.violations.size(); ++i) {
          if (fails(v.violations[i].action, threshold)) {
            failing += finding_line(*o, i);
            ++count;
          } else {
            other += finding_line(*o, i);
          }
        }
        for (const AppliedExemption& e : v.exempted) {
          other += "exempt[" + e.rule + "] " +
                   (e.container ? container_word(*o) + std::string(" \"") + *e.container + "\" " : "") +
                   e.path.str() + ": exempted by " + e.source + ": " + e.reason + "\n";
        }
        for (const std::string& n : v.notes) other += "note: " + n + "\n";
        if (count > 0) {
          ++s_failures;
          cases << "      <failure type=\"podguard\" message=\"" << count
                << (count == 1 ? " violation" : " violations") << "\">" << xml(failing) << "</failure>\n";
        }
        if (!other.empty()) cases << "      <system-out>" << xml(other) << "</system-out>\n";
      }
      cases << "    </testcase>\n";
    }
    for (const Status* e : s.errors) {
      cases << "    <testcase classname=\"" << xml(file) << "\" name=\"parse " << xml(file) << "\" file=\""
            << xml(file) << "\" line=\"" << e->pos().line << "\">\n"
            << "      <error type=\"input\" message=\"" << xml(e->message()) << "\">" << xml(file) << ':'
            << e->pos().line << ':' << e->pos().column << ": " << xml(e->message()) << "</error>\n"
            << "    </testcase>\n";
    }
    const std::size_t s_tests = s.objects.size() + s.errors.size();
    body << "  <testsuite name=\"" << xml(file) << "\" tests=\"" << s_tests << "\" failures=\"" << s_failures
         << "\" errors=\"" << s.errors.size() << "\" skipped=\"" << s_skipped << "\">\n"
         << cases.str() << "  </testsuite>\n";
    total += s_tests;
    failures += s_failures;
    errors += s.errors.size();
    skipped += s_skipped;
  }
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites name=\"podguard\" tests=\"" << total << "\" failures=\"" << failures << "\" errors=\""
      << errors << "\" skipped=\"" << skipped << "\">\n"
      << body.str() << "</testsuites>\n";
}

}  // namespace podguard::cli

// What `podguard check` found, independent of how it is printed: every
// object with its verdict and source positions, and every input that could
// not be read or parsed.
//
// Plain values: built by one thread, then read by the writers; not
// synchronised.
#pragma once

#include <string>
#include <vector>

#include "engine/policy/evaluate.h"

namespace CLI {
class App;
}

namespace podguard::cli {

struct CheckedObject {
  std::string file;  // as the user named it; "<stdin>" for standard input
  SourcePos pos;     // where the object starts
  ObjectVerdict verdict;
  std::vector<SourcePos> violation_pos;  // parallel to verdict.violations
  std::vector<SourcePos> exemption_pos;  // parallel to verdict.exempted
  bool dockerfile = false;               // a Dockerfile: a finding's container is its stage
  bool image = false;                    // an image (podguard image): file is the reference, container the platform
  std::vector<Status> invalid;           // verdict.invalid located; moved to CheckReport::errors
};


struct CheckSummary {
  std::size_t objects = 0;  // every object seen, checked or skipped
  std::size_t checked = 0;
  std::size_t skipped = 0;
  std::size_t denied = 0;  // objects with at least one deny violation
  std::size_t warned = 0;  // objects with warn violations and no deny (admitted with warnings)
  std::size_t deny_violations = 0;
  std::size_t warn_violations = 0;
  std::size_t audit_violations = 0;
  std::size_t exemptions = 0;  // findings suppressed by exemptions
};

struct CheckReport {
  std::vector<std::string> files;  // inputs in the order given, including ones that failed
  std::vector<CheckedObject> objects;
  // Inputs that could not be read or parsed: Statuses with the file and,
  // where known, the line and column.
  std::vector<Status> errors;

  CheckSummary summary() const;
};

// What a finding's `container` names in messages: "container", "stage" in
// a Dockerfile, "platform" in an image.
inline const char* container_word(const CheckedObject& o) {
  return o.dockerfile ? "stage" : o.image ? "platform" : "container";
}

// Which violations fail the run (and fail a JUnit test case).
enum class FailOn { kDeny, kWarn, kNever };

inline bool fails(Action a, FailOn threshold) {
  switch (threshold) {
    case FailOn::kDeny:
      return a == Action::kDeny;
    case FailOn::kWarn:
      return a == Action::kDeny || a == Action::kWarn;
    case FailOn::kNever:
      return false;
  }
  return false;
}

// Prints the report in `output` (text, json, junit, sarif) to stdout and
// its input errors to stderr; returns the exit code of `podguard check`
// and `podguard image`: 2 on input errors, 1 on a violation at or above
// `fail_on` (deny, warn, never), else 0.
int print_report(const CheckReport& report, const std::string& output, const std::string& fail_on);

// Adds print_report's options to a subcommand: -o/--output and --fail-on.
void add_report_options(CLI::App* cmd, std::string& output, std::string& fail_on);

void write_text(const CheckReport& report, std::ostream& out);
void write_json(const CheckReport& report, std::ostream& out);
void write_junit(const CheckReport& report, FailOn threshold, std::ostream& out);
void write_sarif(const CheckReport& report, std::ostream& out);

}  // namespace podguard::cli

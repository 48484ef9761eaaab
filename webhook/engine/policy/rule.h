// What a rule is: an id, its documentation, its parameters and the check
// functions for the inputs it judges: a pod spec (`check`), a Dockerfile
// (`dockerfile_check`), an image's config (`image_check`), or several. How strict a rule is (its action) and who
// is exempt from it are configuration, kept apart in policy.h.
//
// Rules are stateless; their check functions may run on many threads at once.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/reading/document.h"
#include "engine/facts/workload.h"

namespace podguard {

// Ordered by severity, so `a > b` means a is stricter.
enum class Action : std::uint8_t { kOff, kAudit, kWarn, kDeny };

std::string_view to_string(Action a);
std::optional<Action> parse_action(std::string_view s);

enum class ParamType {
  kBool,
  kInt,         // a non-negative integer within [min, max]
  kStringList,  // a list of strings
  kGlobList,    // a list of glob patterns (*, ?, [abc]), validated at load
};

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kBool;
  Json default_value;
  std::string description;
  std::int64_t min = 0;
  std::int64_t max = INT64_MAX;
};

// Pod Security Standards level a `pss.*` rule belongs to.
enum class PssLevel { kNone, kBaseline, kRestricted };

struct RuleDoc {
  std::string id;           // stable, kebab-case; `pss.<upstreamCheckId>` for PSS checks
  std::string summary;      // one line: what a violation is
  std::string description;  // what exactly is checked, with the fields read
  std::string rationale;    // why it matters
  std::string remediation;  // what to set instead
  std::vector<ParamSpec> params;
};

// Decides, before a finding's path and message are built, whether they are
// wanted: evaluate_object keeps a bounded number per rule and only counts
// the rest (see EvalOptions::max_findings_per_rule).
class FindingGate {
 public:
  virtual ~FindingGate() = default;
  // `container` is nullptr for a pod-level finding.
  virtual bool keep(const ContainerView* container) = 0;
};

// Collects the violations one rule finds in one pod spec. Rules that may
// find something in every container pass the path and the message as
// functions, which are called only for findings the gate keeps.
class Findings {
 public:
  struct Entry {
    const ContainerView* container = nullptr;  // nullptr for pod-level findings
    FieldPath path;                  // from the object root
    std::string message;
  };

  explicit Findings(FindingGate* gate = nullptr) : gate_(gate) {}

  void add(const ContainerView* container, FieldPath path, std::string message) {
    if (gate_ != nullptr && !gate_->keep(container)) return;
    entries_.push_back(Entry{container, std::move(path), std::move(message)});
  }
  void add(FieldPath path, std::string message) { add(nullptr, std::move(path), std::move(message)); }
  template <typename PathFn, typename MessageFn,
            typename = std::enable_if_t<std::is_invocable_r_v<FieldPath, PathFn> &&
                                        std::is_invocable_r_v<std::string, MessageFn>>>
  void add(const ContainerView* container, PathFn&& path, MessageFn&& message) {
    if (gate_ != nullptr && !gate_->keep(container)) return;
    Entry& entry = entries_.emplace_back();  // (a pushed temporary trips GCC 12's -Wstringop-overread)
    entry.container = container;
    entry.path = path();
    entry.message = message();
  }

  const std::vector<Entry>& entries() const { return entries_; }
  void clear() { entries_.clear(); }

 private:
  FindingGate* gate_;
  std::vector<Entry> entries_;
};

// Parameters of a rule as configured: a JSON object that holds every
// parameter the rule declares, already validated against its ParamSpec.
using RuleParams = Json;

using CheckFn = void (*)(const PodView& pod, const RuleParams& params, Findings& out);

class DockerfileFacts;  // engine/facts/dockerfile_facts.h

// Collects what one rule finds in one Dockerfile. A finding points at an
// instruction (where an inline `# podguard:ignore` exemption goes, on the
// lines above it) and at a position inside it; a finding about something
// missing from a stage points at the stage's FROM.
class DockerfileFindings {
 public:
  static constexpr std::size_t kNoStage = static_cast<std::size_t>(-1);

  struct Entry {
    std::size_t stage = kNoStage;  // the stage it is about; kNoStage for ARGs before the first FROM
    std::size_t instruction = 0;   // index in the Dockerfile's instructions
    SourcePos pos;
    std::string message;
  };

  void add(std::size_t stage, std::size_t instruction, SourcePos pos, std::string message) {
    entries_.push_back(Entry{stage, instruction, pos, std::move(message)});
  }

  const std::vector<Entry>& entries() const { return entries_; }
  void clear() { entries_.clear(); }

 private:
  std::vector<Entry> entries_;
};

using DockerfileCheckFn = void (*)(const DockerfileFacts& dockerfile, const RuleParams& params,
                                   DockerfileFindings& out);

struct ImageFacts;  // engine/facts/image_facts.h

// What one image rule judges: a reference as written and what the registry
// (or an archive) said about it. `facts` is nullptr when the registry says
// the reference does not exist; `not_found` then holds its words.
struct ImageSubject {
  std::string_view reference;
  const ImageFacts* facts = nullptr;
  std::string_view not_found;
};

// Collects what one rule finds in one image. A finding is about one of the
// judged platform images (an index into ImageFacts::images) or the image as
// a whole, at a path into its config (config.User, config.Env[2],
// history[5].created_by).
class ImageFindings {
 public:
  static constexpr std::size_t kWholeImage = static_cast<std::size_t>(-1);

  struct Entry {
    std::size_t image = kWholeImage;
    FieldPath path;
    std::string message;
  };

  void add(std::size_t image, FieldPath path, std::string message) {
    entries_.push_back(Entry{image, std::move(path), std::move(message)});
  }

  const std::vector<Entry>& entries() const { return entries_; }
  void clear() { entries_.clear(); }

 private:
  std::vector<Entry> entries_;
};

using ImageCheckFn = void (*)(const ImageSubject& image, const RuleParams& params, ImageFindings& out);

struct Rule {
  RuleDoc doc;
  Action contract_action = Action::kOff;  // default in the `contract` profile
  PssLevel pss_level = PssLevel::kNone;
  // For a restricted PSS check: the baseline check it replaces at restricted.
  std::string replaces;
  // What the rule judges; at least one is set.
  CheckFn check = nullptr;                         // pod specs of workloads
  DockerfileCheckFn dockerfile_check = nullptr;    // Dockerfiles
  ImageCheckFn image_check = nullptr;              // image configs read from a registry
};

// The inputs a rule judges, for docs and `podguard rules`: "pods",
// "Dockerfiles", "images".
std::vector<std::string_view> judged_inputs(const Rule& rule);

// Short container label for messages: `container "app"`, `init container
// "setup"`, `ephemeral container "debug"`.
std::string describe(const ContainerView& c);

}  // namespace podguard

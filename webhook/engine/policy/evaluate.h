// The policy engine: evaluates Kubernetes objects against a Policy and
// returns what each rule found, after actions, namespace overrides and
// exemptions. The CLI and the webhook are thin shells around these calls.
//
// Evaluation reads the policy and the object and changes neither; it is safe
// to evaluate from many threads against one shared Policy.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/facts/api_types.h"
#include "engine/facts/image_facts.h"
#include "engine/policy/policy.h"

namespace podguard {

inline constexpr std::string_view kExemptAnnotation = "podguard.io/exempt";
inline constexpr std::string_view kExemptReasonAnnotation = "podguard.io/exempt-reason";

struct Violation {
  std::string rule;
  Action action = Action::kDeny;
  std::optional<std::string> container;  // nullopt for pod-level findings
  FieldPath path;                        // from the object's root
  std::string message;
};

// A finding that an exemption suppressed: one entry per finding, so outputs
// can point at it; group by rule and reason for a summary.
struct AppliedExemption {
  std::string rule;
  std::string reason;
  std::string source;                    // "config" or "annotation"
  Action action = Action::kDeny;         // what the finding would have been
  std::optional<std::string> container;  // nullopt for pod-level findings
  FieldPath path;
};

// Findings of one rule in one object beyond EvalOptions::max_findings_per_rule:
// counted, not kept, so that an object with thousands of violating
// containers costs no more to report than one with a handful.
struct OmittedFindings {
  std::string rule;
  Action action = Action::kDeny;
  std::size_t violations = 0;  // violations not kept in ObjectVerdict::violations
  std::size_t exempted = 0;    // exempted findings not kept in ObjectVerdict::exempted
};

struct ObjectVerdict {
  std::string api_version;
  std::string kind;
  std::string ns;    // metadata.namespace, or the default namespace
  std::string name;  // metadata.name, or generateName for controller-made pods
  FieldPath root;    // where the object sits in its document (items[3] in a List)
  bool checked = false;  // false for kinds that carry no pod spec (skipped)
  std::vector<Violation> violations;
  std::vector<AppliedExemption> exempted;
  std::vector<std::string> notes;  // e.g. an exemption annotation that was ignored, and why
  std::vector<OmittedFindings> omitted;  // per rule, in registry order; empty unless capped
  // Fields the API server would not decode (a string where a boolean goes):
  // such an object is rejected before it runs, so no rule judges it.
  std::vector<FieldTypeError> invalid;

  // Violations of `rule`, kept or omitted.
  std::size_t violation_count(std::string_view rule) const;

  // The strictest action among the violations (kOff when there are none).
  Action worst() const;
  // "Deployment shop/web", "Pod default/web-7d9f-" for messages.
  std::string display_name() const;
};

// What the image rules found in one found image under a policy's base rule
// settings (no namespace override), before exemptions: the part of judging
// a workload's image that depends on the image alone. The webhook keeps one
// per cached image, so that reviews of workloads whose images it knows do
// not judge those images again.
struct ImageJudgement {
  // Indexed like the policy's registry: the findings of each rule's image
  // check; empty for rules that are off or judge no images.
  std::vector<std::vector<ImageFindings::Entry>> by_rule;
  bool clean = true;  // no rule found anything (most images, once fixed)
};

// Judges an image (found, or one the registry says does not exist) with
// every image rule at the policy's base settings.
ImageJudgement judge_image(const Policy& policy, const ImageSubject& subject);
// The same for `facts`, found for `reference`.
ImageJudgement judge_image(const Policy& policy, std::string_view reference, const ImageFacts& facts);

// Judgements made before, by the reference they were made for and the
// facts they were made from (an answer whose facts differ is judged
// afresh). A handful per review: searched in order.
class ImageJudgements {
 public:
  void reserve(std::size_t n) { entries_.reserve(n); }
  void add(std::string_view reference, const ImageFacts* facts, const ImageJudgement* judgement) {
    entries_.push_back({reference, facts, judgement});
  }
  const ImageJudgement* find(std::string_view reference, const ImageFacts* facts) const {
    for (const Entry& e : entries_) {
      if (e.facts == facts && e.reference == reference) return e.judgement;
    }
    return nullptr;
  }

 private:
  struct Entry {
    std::string_view reference;
    const ImageFacts* facts;
    const ImageJudgement* judgement;
  };
  std::vector<Entry> entries_;
};

struct EvalOptions {
  // Namespace for objects that do not set metadata.namespace (kubectl -n).
  std::string default_namespace = "default";
  // For exemption expiry.
  Day today = today_utc();
  // At most this many violations, and as many exempted findings, are kept
  // per rule in an object; the rest are counted in ObjectVerdict::omitted.
  // 0 keeps every finding (podguard check); the webhook caps them so that a
  // review's cost follows its size, not its number of findings.
  std::size_t max_findings_per_rule = 0;
  // Check that the object's fields have the types the API server decodes
  // them into (facts/api_types.h) before judging it. podguard check does: a
  // manifest is text anyone wrote. The webhook does not: the API server has
  // decoded the object into its typed structs before it calls a webhook, so
  // the types are right by construction, and checking them again would cost
  // a twelfth of the engine's work per review.
  bool check_api_types = true;
  // What image lookups answered for the images of the objects judged
  // (facts/image_facts.h); nullptr or an image missing from it: the rules
  // judge the spec alone. Not owned; must outlive the evaluation.
  const KnownImages* images = nullptr;
  // Image rules' findings judged before for some of those images
  // (judge_image under this policy); used where the object's namespace has
  // no override. nullptr: every image is judged here. Not owned.
  const ImageJudgements* judged_images = nullptr;
};

// Evaluates one object (skipped when it has no pod spec).
ObjectVerdict evaluate_object(const Policy& policy, const Json& object, const EvalOptions& options,
                              FieldPath root = {});

// Evaluates a document: one object, or every item of a List (recursively).
// `root` is where the document sits in its source (items[3] for an item
// streamed out of a List); verdict roots are prefixed with it.
std::vector<ObjectVerdict> evaluate_document(const Policy& policy, const Json& document,
                                             const EvalOptions& options, const FieldPath& root = {});

}  // namespace podguard

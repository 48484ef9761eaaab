#include "engine/policy/evaluate.h"

#include <algorithm>

#include "engine/policy/evaluate_image.h"
#include "engine/policy/glob.h"
#include "engine/reading/json_access.h"
#include "engine/facts/workload.h"

namespace podguard {

Action ObjectVerdict::worst() const {
  Action a = Action::kOff;
  for (const auto& v : violations) a = std::max(a, v.action);
  return a;
}

std::size_t ObjectVerdict::violation_count(std::string_view rule) const {
  std::size_t n = 0;
  for (const Violation& v : violations) n += v.rule == rule ? 1 : 0;
  for (const OmittedFindings& o : omitted) n += o.rule == rule ? o.violations : 0;
  return n;
}

std::string ObjectVerdict::display_name() const {
  std::string out = kind.empty() ? "(no kind)" : kind;
  out += ' ';
  if (!ns.empty()) out += ns + "/";
  out += name.empty() ? "(unnamed)" : name;
  return out;
}

namespace {

// Rules `podguard.io/exempt` annotations switch off for one object, each
// with the reason written next to the annotation that named it.
struct AnnotationExemptions {
  std::vector<std::pair<std::size_t, std::string>> rules;  // registry index, reason

  // The reason a rule is exempt for, or nullptr when it is not.
  const std::string* reason_for(std::size_t rule) const {
    for (const auto& [index, reason] : rules) {
      if (index == rule) return &reason;
    }
    return nullptr;
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Reads one metadata's exemption annotation into `out`.
void read_exemption_annotation(const Policy& policy, const Json* metadata, AnnotationExemptions& out,
                               std::vector<std::string>& notes) {
  const Json* annotations = json::field(metadata, "annotations");
  const Json* exempt = json::field(annotations, kExemptAnnotation);
  if (exempt == nullptr) return;
  if (!policy.allow_annotation_exemptions) {
    notes.push_back("annotation " + std::string(kExemptAnnotation) +
                    " is ignored: this policy sets allowAnnotationExemptions: false");
    return;
  }
  const std::string_view reason = trim(json::as_string(json::field(annotations, kExemptReasonAnnotation)));
  if (reason.empty()) {
    notes.push_back("annotation " + std::string(kExemptAnnotation) + " is ignored: add a non-empty " +
                    std::string(kExemptReasonAnnotation) + " annotation that says why");
    return;
  }
  const RuleRegistry& registry = *policy.registry;
  std::string_view list = json::as_string(exempt);
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view id = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (id.empty()) continue;
    if (auto index = registry.index_of(id)) {
      if (out.reason_for(*index) == nullptr) out.rules.emplace_back(*index, std::string(reason));
    } else {
      notes.push_back("annotation " + std::string(kExemptAnnotation) + " names unknown rule \"" + std::string(id) +
                      "\"; `podguard rules` lists the ids");
    }
  }
}

// Reads the exemption annotations of the object's metadata and of its pod
// template's, and honours both: a rule named in either is exempt. The Pods a
// controller creates carry only the template's annotations, so exempting on
// the template keeps the workload and its Pods decided alike; one on the
// workload alone exempts the workload, not its Pods (docs/configuration.md).
AnnotationExemptions annotation_exemptions(const Policy& policy, const Json& object, const PodView& pod,
                                           std::vector<std::string>& notes) {
  AnnotationExemptions out;
  const Json* own = json::field(&object, "metadata");
  read_exemption_annotation(policy, own, out, notes);
  if (pod.metadata() != own) read_exemption_annotation(policy, pod.metadata(), out, notes);
  return out;
}

bool exemption_covers(const Exemption& e, std::size_t rule, std::string_view ns, std::string_view name,
                      const ContainerView* container, Day today) {
  if (e.expires && today > *e.expires) return false;
  if (!e.rules.empty() && std::find(e.rules.begin(), e.rules.end(), rule) == e.rules.end()) return false;
  if (!e.namespaces.empty() && !glob_match_any(e.namespaces, ns)) return false;
  if (!e.names.empty() && !glob_match_any(e.names, name)) return false;
  if (e.containers.empty() && e.images.empty()) return true;
  if (container == nullptr) return false;  // container-scoped exemptions never cover pod-level findings
  if (!e.containers.empty() && !glob_match_any(e.containers, container->name)) return false;
  if (!e.images.empty() && !glob_match_any(e.images, container->image)) {
    return false;
  }
  return true;
}

void note_exemption(ObjectVerdict& v, const std::string& rule, Action action, const std::string& reason,
                    std::string_view source, const Findings::Entry& finding) {
  AppliedExemption e{rule, reason, std::string(source), action, std::nullopt, finding.path};
  if (finding.container != nullptr) e.container = std::string(finding.container->name);
  v.exempted.push_back(std::move(e));
}

// Keeps at most EvalOptions::max_findings_per_rule violations and as many
// exempted findings of each rule, and counts the others, before their paths
// and messages are built.
class CappedFindings final : public FindingGate {
 public:
  CappedFindings(const Policy& policy, const ObjectVerdict& verdict, const EvalOptions& options)
      : policy_(policy), verdict_(verdict), options_(options) {}

  void start_rule(std::size_t rule, bool annotation_exempt) {
    rule_ = rule;
    annotation_exempt_ = annotation_exempt;
    kept_violations_ = kept_exempted_ = 0;
    omitted_violations = omitted_exempted = 0;
  }

  // The config exemption that covers a finding of the current rule, if any.
  const Exemption* covering(const ContainerView* container) const {
    for (const Exemption& e : policy_.exemptions) {
      if (exemption_covers(e, rule_, verdict_.ns, verdict_.name, container, options_.today)) return &e;
    }
    return nullptr;
  }

  bool keep(const ContainerView* container) override {
    const bool exempt = annotation_exempt_ || covering(container) != nullptr;
    std::size_t& kept = exempt ? kept_exempted_ : kept_violations_;
    if (kept < options_.max_findings_per_rule) {
      ++kept;
      return true;
    }
    ++(exempt ? omitted_exempted : omitted_violations);
    return false;
  }

  std::size_t omitted_violations = 0;
  std::size_t omitted_exempted = 0;

 private:
  const Policy& policy_;
  const ObjectVerdict& verdict_;
  const EvalOptions& options_;
  std::size_t rule_ = 0;
  bool annotation_exempt_ = false;
  std::size_t kept_violations_ = 0;
  std::size_t kept_exempted_ = 0;
};

// " (linux/arm64)" after a finding about one platform image of several,
// unless the rule's message names the platform already.
std::string platform_note(const ImageFacts* facts, const ImageFindings::Entry& f) {
  if (facts == nullptr || facts->images.size() < 2 || f.image >= facts->images.size()) return {};
  std::string platform = facts->images[f.image].platform.to_string();
  if (f.message.find(platform) != std::string::npos) return {};
  return " (" + platform + ")";
}

// Runs `rule`'s image check on the image of every container that lookups
// found (or that the registry says does not exist), and adds each finding
// to `out` on that container, at its `image` field. Every container gets
// the findings of its image, when several share one.
// `judged` (parallel to the pod's containers; empty when there are none)
// holds the findings of every image rule judged before for the
// container's image, at the same params.
void judge_container_images(std::size_t rule_index, const Rule& rule, const RuleParams& params, const PodView& pod,
                            const std::vector<const ImageJudgement*>& judged, ImageFindings& scratch, Findings& out) {
  const std::vector<ContainerView>& containers = pod.containers();
  for (std::size_t k = 0; k < containers.size(); ++k) {
    const ContainerView& c = containers[k];
    const std::string_view reference = c.image;
    const ImageAnswer* answer = c.image_answer;
    if (answer == nullptr || answer->state == ImageAnswer::State::kFailed) continue;
    const ImageFacts* facts = answer->state == ImageAnswer::State::kFound ? answer->facts.get() : nullptr;
    if (answer->state == ImageAnswer::State::kFound && facts == nullptr) continue;
    const ImageJudgement* before = k < judged.size() ? judged[k] : nullptr;
    const std::vector<ImageFindings::Entry>* entries = nullptr;
    if (before != nullptr && rule_index < before->by_rule.size()) {
      entries = &before->by_rule[rule_index];
    } else {
      scratch.clear();
      rule.image_check(ImageSubject{reference, facts, facts == nullptr ? answer->reason : std::string_view()}, params,
                       scratch);
      entries = &scratch.entries();
    }
    for (const ImageFindings::Entry& f : *entries) {
      out.add(
          &c, [&] { return pod.container_path(c).key("image"); },
          [&] { return "image \"" + std::string(reference) + "\": " + f.message + platform_note(facts, f); });
    }
  }
}

bool any_failed(const KnownImages& images) {
  for (const auto& [reference, answer] : images.entries()) {
    if (answer.state == ImageAnswer::State::kFailed) return true;
  }
  return false;
}

// judged->find for each of the pod's containers (empty when judged is
// null or knows none of them).
std::vector<const ImageJudgement*> judgements_by_container(const PodView& pod, const ImageJudgements* judged) {
  std::vector<const ImageJudgement*> out;
  if (judged == nullptr) return out;
  const std::vector<ContainerView>& containers = pod.containers();
  for (std::size_t k = 0; k < containers.size(); ++k) {
    const ImageAnswer* answer = containers[k].image_answer;
    if (answer == nullptr || answer->state != ImageAnswer::State::kFound || !answer->facts) continue;
    const ImageJudgement* found = judged->find(containers[k].image, answer->facts.get());
    if (found == nullptr) continue;
    out.resize(containers.size(), nullptr);
    out[k] = found;
  }
  return out;
}

// Whether the image rules have anything to judge in the pod: a container
// whose image was found (or not found) and not judged before, or judged
// with findings. Not when every such image is judged and clean: then a
// review of a workload whose images the webhook knows and that pass costs
// the image rules nothing.
bool image_checks_needed(const PodView& pod, const std::vector<const ImageJudgement*>& judged) {
  const std::vector<ContainerView>& containers = pod.containers();
  for (std::size_t k = 0; k < containers.size(); ++k) {
    const ImageAnswer* answer = containers[k].image_answer;
    if (answer == nullptr || answer->state == ImageAnswer::State::kFailed) continue;
    if (k >= judged.size() || judged[k] == nullptr || !judged[k]->clean) return true;
  }
  return false;
}

// A finding on every container whose image's lookup failed, for the rule
// failed lookups are reported under (at `action`, from
// unreachable_image_action).
void report_failed_lookups(const Policy& policy, Action action, const PodView& pod, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    const std::string_view reference = c.image;
    const ImageAnswer* answer = c.image_answer;
    if (answer == nullptr || answer->state != ImageAnswer::State::kFailed) continue;
    out.add(
        &c, [&] { return pod.container_path(c).key("image"); },
        [&] {
          return "image \"" + std::string(reference) + "\": " +
                 unreachable_image_message(policy, action, answer->registry, answer->reason);
        });
  }
}

// What one rule found in the object, after exemptions, into the verdict.
// Findings from `failures_from` on are failed lookups, at `failure_action`.
void record(ObjectVerdict& v, const Rule& rule, Action action, const std::string* annotation_reason,
            const CappedFindings& gate, const Findings& findings, std::size_t failures_from, Action failure_action) {
  const std::vector<Findings::Entry>& entries = findings.entries();
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const Findings::Entry& f = entries[k];
    const Action a = k >= failures_from ? failure_action : action;
    if (annotation_reason != nullptr) {
      note_exemption(v, rule.doc.id, a, *annotation_reason, "annotation", f);
      continue;
    }
    if (const Exemption* covering = gate.covering(f.container)) {
      note_exemption(v, rule.doc.id, a, covering->reason, "config", f);
      continue;
    }
    Violation out;
    out.rule = rule.doc.id;
    out.action = a;
    if (f.container != nullptr) out.container = std::string(f.container->name);
    out.path = f.path;
    out.message = f.message;
    v.violations.push_back(std::move(out));
  }
}

}  // namespace

ObjectVerdict evaluate_object(const Policy& policy, const Json& object, const EvalOptions& options, FieldPath root) {
  ObjectVerdict v;
  v.root = std::move(root);
  const Json* metadata = json::field(&object, "metadata");
  v.api_version = json::as_string(json::field(&object, "apiVersion"));
  v.kind = json::as_string(json::field(&object, "kind"));
  v.name = json::as_string(json::field(metadata, "name"));
  if (v.name.empty()) v.name = json::as_string(json::field(metadata, "generateName"));
  v.ns = json::as_string(json::field(metadata, "namespace"));
  if (v.ns.empty()) v.ns = options.default_namespace;

  std::optional<PodView> pod = find_pod(object);
  if (!pod) return v;
  v.checked = true;
  if (options.check_api_types) {
    v.invalid = check_api_types(object, *pod);
    if (!v.invalid.empty()) return v;
  }
  pod->set_images(options.images);

  std::vector<RuleSetting> overridden;
  const std::vector<RuleSetting>* settings = &policy.rules;
  if (policy.has_override_for(v.ns)) {
    overridden = policy.settings_for(v.ns);
    settings = &overridden;
  }
  const AnnotationExemptions by_annotation = annotation_exemptions(policy, object, *pod, v.notes);

  const RuleRegistry& registry = *policy.registry;
  const KnownImages* images = options.images;
  const std::optional<std::size_t> lookup_rule =
      images != nullptr && any_failed(*images) ? registry.index_of(kImageLookupRule) : std::nullopt;
  // The image rules' findings judged before for each container's image
  // (the webhook's, for cached images; only under the policy's own rule
  // settings, as they were judged).
  const std::vector<const ImageJudgement*> judged =
      settings == &policy.rules ? judgements_by_container(*pod, options.judged_images)
                                : std::vector<const ImageJudgement*>();
  const bool image_checks = images != nullptr && image_checks_needed(*pod, judged);
  ImageFindings image_findings;
  CappedFindings gate(policy, v, options);
  Findings findings(options.max_findings_per_rule > 0 ? &gate : nullptr);
  for (std::size_t i = 0; i < registry.size(); ++i) {
    const RuleSetting& setting = (*settings)[i];
    if (setting.action == Action::kOff) continue;
    const Rule& rule = registry.at(i);
    const bool judges_images = images != nullptr && rule.image_check != nullptr;
    if (rule.check == nullptr && !judges_images) continue;  // judges other inputs (Dockerfiles) only
    const std::string* annotation_reason = by_annotation.reason_for(i);
    findings.clear();
    gate.start_rule(i, annotation_reason != nullptr);
    if (rule.check != nullptr) rule.check(*pod, setting.params, findings);
    std::size_t failures_from = static_cast<std::size_t>(-1);
    Action failure_action = Action::kOff;
    if (judges_images) {
      if (image_checks) judge_container_images(i, rule, setting.params, *pod, judged, image_findings, findings);
      if (lookup_rule == i) {
        failures_from = findings.entries().size();
        failure_action = unreachable_image_action(policy, setting.action);
        if (failure_action != Action::kOff) report_failed_lookups(policy, failure_action, *pod, findings);
      }
    }
    record(v, rule, setting.action, annotation_reason, gate, findings, failures_from, failure_action);
    if (gate.omitted_violations > 0 || gate.omitted_exempted > 0) {
      v.omitted.push_back({rule.doc.id, setting.action, gate.omitted_violations, gate.omitted_exempted});
    }
  }
  return v;
}

ImageJudgement judge_image(const Policy& policy, const ImageSubject& subject) {
  const RuleRegistry& registry = *policy.registry;
  ImageJudgement out;
  out.by_rule.resize(registry.size());
  ImageFindings findings;
  for (std::size_t i = 0; i < registry.size(); ++i) {
    const Rule& rule = registry.at(i);
    if (policy.rules[i].action == Action::kOff || rule.image_check == nullptr) continue;
    findings.clear();
    rule.image_check(subject, policy.rules[i].params, findings);
    out.by_rule[i] = findings.entries();
    out.clean = out.clean && findings.entries().empty();
  }
  return out;
}

ImageJudgement judge_image(const Policy& policy, std::string_view reference, const ImageFacts& facts) {
  return judge_image(policy, ImageSubject{reference, &facts, {}});
}

std::vector<ObjectVerdict> evaluate_document(const Policy& policy, const Json& document, const EvalOptions& options,
                                             const FieldPath& root) {
  std::vector<ObjectVerdict> out;
  for_each_object(document, root,
                  [&](const Json& object, const FieldPath& path) { out.push_back(evaluate_object(policy, object, options, path)); });
  return out;
}

}  // namespace podguard

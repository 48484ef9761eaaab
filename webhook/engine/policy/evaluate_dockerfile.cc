#include "engine/policy/evaluate_dockerfile.h"

#include <algorithm>
#include <deque>
#include <numeric>
#include <unordered_map>

#include "engine/policy/glob.h"

namespace podguard {
namespace {

// The `# podguard:ignore RULES reason="..."` comments that hold: for each
// instruction with one, the reason each rule is exempt there (the first
// comment that names it wins).
class InlineExemptions {
 public:
  explicit InlineExemptions(std::size_t rules) : rules_(rules) {}

  void add(std::size_t instruction, const std::vector<std::size_t>& rules, std::string reason) {
    const std::string* kept = &reasons_.emplace_back(std::move(reason));
    std::vector<const std::string*>& by_rule = by_instruction_[instruction];
    by_rule.resize(rules_, nullptr);
    for (std::size_t r : rules) {
      if (by_rule[r] == nullptr) by_rule[r] = kept;
    }
  }

  // The reason `rule` is exempt at `instruction`, or nullptr.
  const std::string* reason(std::size_t instruction, std::size_t rule) const {
    const auto it = by_instruction_.find(instruction);
    return it == by_instruction_.end() ? nullptr : it->second[rule];
  }

 private:
  std::size_t rules_;
  std::deque<std::string> reasons_;  // stable addresses
  std::unordered_map<std::size_t, std::vector<const std::string*>> by_instruction_;
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string at_line(const DockerfileComment& c) { return "line " + std::to_string(c.pos.line) + ": "; }

// Reads the inline exemptions above every instruction; what it cannot use
// becomes a note.
InlineExemptions inline_exemptions(const Policy& policy, const Dockerfile& file, std::vector<std::string>& notes) {
  InlineExemptions out(policy.registry->size());
  const std::string syntax = "# " + std::string(kInlineExemptionComment) + " RULE[,RULE] reason=\"...\"";
  for (std::size_t i = 0; i < file.instructions.size(); ++i) {
    for (const DockerfileComment& c : file.instructions[i].comments) {
      std::string_view text = c.text;
      if (text.substr(0, 9) != "podguard:") continue;
      const std::string_view directive = text.substr(0, text.find_first_of(" \t"));
      if (directive != kInlineExemptionComment) {
        notes.push_back(at_line(c) + "\"# " + std::string(directive) + "\" is not a podguard comment; write " + syntax);
        continue;
      }
      text.remove_prefix(directive.size());
      if (!policy.allow_annotation_exemptions) {
        notes.push_back(at_line(c) + "# " + std::string(kInlineExemptionComment) +
                        " is ignored: this policy sets allowAnnotationExemptions: false");
        continue;
      }
      const auto reason_at = text.find("reason=");
      std::string_view reason;
      if (reason_at != std::string_view::npos) {
        std::string_view r = text.substr(reason_at + 7);
        if (!r.empty() && (r.front() == '"' || r.front() == '\'')) {
          const auto close = r.find(r.front(), 1);
          r = r.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
        }
        reason = trim(r);
      }
      if (reason.empty()) {
        notes.push_back(at_line(c) + "# " + std::string(kInlineExemptionComment) +
                        " is ignored: add a non-empty reason=\"...\" that says why (" + syntax + ")");
        continue;
      }
      std::vector<std::size_t> rules;
      std::string_view ids = text.substr(0, reason_at);
      while (!ids.empty()) {
        const auto sep = ids.find_first_of(", \t");
        const std::string_view id = ids.substr(0, sep);
        ids = sep == std::string_view::npos ? std::string_view() : ids.substr(sep + 1);
        if (id.empty()) continue;
        if (auto index = policy.registry->index_of(id)) {
          rules.push_back(*index);
        } else {
          notes.push_back(at_line(c) + "# " + std::string(kInlineExemptionComment) + " names unknown rule \"" +
                          std::string(id) + "\"; `podguard rules` lists the ids");
        }
      }
      if (rules.empty()) {
        notes.push_back(at_line(c) + "# " + std::string(kInlineExemptionComment) + " names no rule; write " + syntax);
        continue;
      }
      out.add(i, rules, std::string(reason));
    }
  }
  return out;
}

// The config exemption that covers a finding, under the meanings listed in
// evaluate_dockerfile.h.
const Exemption* config_covering(const Policy& policy, std::size_t rule, std::string_view path,
                                 const std::optional<std::string>& stage, std::string_view base_image, Day today) {
  for (const Exemption& e : policy.exemptions) {
    if (e.expires && today > *e.expires) continue;
    if (!e.rules.empty() && std::find(e.rules.begin(), e.rules.end(), rule) == e.rules.end()) continue;
    if (!e.namespaces.empty()) continue;
    if (!e.names.empty() && !glob_match_any(e.names, path)) continue;
    if (!e.containers.empty() && !(stage && glob_match_any(e.containers, *stage))) continue;
    if (!e.images.empty() && !(stage && glob_match_any(e.images, base_image))) continue;
    return &e;
  }
  return nullptr;
}

bool before(const SourcePos& a, const SourcePos& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

// Violations in file order; ties keep the registry's rule order.
void sort_violations(DockerfileVerdict& out) {
  std::vector<std::size_t> order(out.verdict.violations.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return before(out.violation_pos[a], out.violation_pos[b]); });
  std::vector<Violation> violations;
  std::vector<SourcePos> positions;
  for (std::size_t i : order) {
    violations.push_back(std::move(out.verdict.violations[i]));
    positions.push_back(out.violation_pos[i]);
  }
  out.verdict.violations = std::move(violations);
  out.violation_pos = std::move(positions);
}

}  // namespace

DockerfileVerdict evaluate_dockerfile(const Policy& policy, const DockerfileFacts& dockerfile, std::string_view path,
                                      const EvalOptions& options) {
  DockerfileVerdict out;
  ObjectVerdict& v = out.verdict;
  v.kind = "Dockerfile";
  v.name = std::string(path);
  v.checked = true;
  std::string_view shown = path;
  while (shown.substr(0, 2) == "./") shown.remove_prefix(2);

  const InlineExemptions inline_exempt = inline_exemptions(policy, dockerfile.file(), v.notes);
  const RuleRegistry& registry = *policy.registry;
  DockerfileFindings findings;
  for (std::size_t i = 0; i < registry.size(); ++i) {
    const Rule& rule = registry.at(i);
    const RuleSetting& setting = policy.rules[i];
    if (setting.action == Action::kOff || rule.dockerfile_check == nullptr) continue;
    findings.clear();
    rule.dockerfile_check(dockerfile, setting.params, findings);
    for (const DockerfileFindings::Entry& f : findings.entries()) {
      std::optional<std::string> stage;
      std::string_view base_image;
      FieldPath where;
      if (f.stage != DockerfileFindings::kNoStage && f.stage < dockerfile.stages().size()) {
        stage = dockerfile.stages()[f.stage].display_name();
        base_image = dockerfile.root(f.stage).base;
        where.push_key("stages").push_index(f.stage);
      }
      if (f.instruction < dockerfile.file().instructions.size()) {
        where.push_key(dockerfile.instruction(f.instruction).keyword);
      }
      const std::string* by_comment = inline_exempt.reason(f.instruction, i);
      const Exemption* by_config =
          by_comment ? nullptr : config_covering(policy, i, shown, stage, base_image, options.today);
      if (by_comment != nullptr || by_config != nullptr) {
        v.exempted.push_back(AppliedExemption{rule.doc.id, by_comment ? *by_comment : by_config->reason,
                                              by_comment ? "comment" : "config", setting.action, stage, where});
        out.exemption_pos.push_back(f.pos);
        continue;
      }
      v.violations.push_back(Violation{rule.doc.id, setting.action, stage, std::move(where), f.message});
      out.violation_pos.push_back(f.pos);
    }
  }
  sort_violations(out);
  return out;
}

}  // namespace podguard

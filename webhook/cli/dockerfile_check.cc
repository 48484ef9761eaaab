#include "cli/dockerfile_check.h"

#include "engine/facts/dockerfile_facts.h"
#include "engine/policy/evaluate_dockerfile.h"

namespace podguard::cli {

void check_dockerfile(const Policy& policy, const std::string& file, std::string_view text, const EvalOptions& eval,
                      std::vector<CheckedObject>& objects, std::vector<Status>& errors) {
  Result<Dockerfile> parsed = parse_dockerfile(text);
  if (!parsed.ok()) {
    errors.push_back(Status(parsed.error()).with_file(file));
    return;
  }
  const DockerfileFacts facts(std::move(parsed).value());
  DockerfileVerdict judged = evaluate_dockerfile(policy, facts, file, eval);
  CheckedObject o;
  o.file = file;
  o.pos = SourcePos{1, 1};
  o.dockerfile = true;
  o.verdict = std::move(judged.verdict);
  o.violation_pos = std::move(judged.violation_pos);
  o.exemption_pos = std::move(judged.exemption_pos);
  objects.push_back(std::move(o));
}

}  // namespace podguard::cli

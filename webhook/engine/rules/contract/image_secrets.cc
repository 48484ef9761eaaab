// image-secrets: no secret is baked into an image's configuration or
// history.
//
// Reads, in a Dockerfile, every ENV, every ARG default and every LABEL, in
// every stage and before the first FROM, with the detector of
// no-secret-literals (facts/secret_literals.h). Fails on a value that looks
// like a credential whatever its name; on a literal value under a
// secret-like name (an ARG default, an ENV or a LABEL); on an ENV with a
// secret-like name that copies a build argument into the image's
// environment; and on an ARG with a secret-like name and no default in a
// stage of the final image, whose --build-arg value `docker history` shows.
// Messages never repeat the value.
#include <algorithm>

#include "engine/facts/dockerfile_facts.h"
#include "engine/facts/secret_literals.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/dockerfile_text.h"
#include "engine/rules/contract/image_config_text.h"

namespace podguard::rules {
namespace {

constexpr std::string_view kFix =
    "pass secrets at run time (a Kubernetes Secret through env valueFrom.secretKeyRef) and to build steps with "
    "RUN --mount=type=secret, and rotate any value that was committed";

void judge(const DockerfileFacts& dockerfile, std::size_t stage, std::string_view keyword, const DockerfileValue& v,
           bool in_final_image, DockerfileFindings& out) {
  const std::string where =
      stage == DockerfileFindings::kNoStage ? std::string("before the first FROM") : "in " + stage_phrase(dockerfile, stage);
  const std::string what = std::string(keyword) + " " + v.name + " " + where;
  if (!v.has_value) {
    // ARG NAME without a default: the value comes from --build-arg.
    if (keyword == "ARG" && in_final_image && secret_like_name(v.name)) {
      out.add(stage, v.instruction, v.pos,
              what + " is a build argument whose name says it is a secret; the value given with --build-arg is "
                     "recorded in the image's history (docker history) for every RUN after it; " +
                  std::string(kFix));
    }
    return;
  }
  if (auto kind = secret_like_value(v.value)) {
    out.add(stage, v.instruction, v.pos,
            what + " has a value that looks like " + std::string(*kind) +
                "; it is in the Dockerfile, in git history and in the image (docker inspect, docker history); " +
                std::string(kFix));
    return;
  }
  if (!secret_like_name(v.name) || names_a_secret_file(v.name, v.value)) return;
  if (v.literal && !v.value.empty()) {
    out.add(stage, v.instruction, v.pos,
            what + " has a literal value and its name says it is a secret; it is in the Dockerfile, in git history "
                   "and in the image (docker inspect, docker history); " +
                std::string(kFix));
  } else if (keyword == "ENV" && !v.literal && v.references) {
    out.add(stage, v.instruction, v.pos,
            what + " copies a build argument into the image's environment, where docker inspect shows it to anyone "
                   "who can pull the image; " +
                std::string(kFix));
  }
}

void check_dockerfile(const DockerfileFacts& dockerfile, const RuleParams&, DockerfileFindings& out) {
  for (const DockerfileValue& v : dockerfile.global_args()) {
    judge(dockerfile, DockerfileFindings::kNoStage, "ARG", v, false, out);
  }
  const std::vector<std::size_t> shipped = dockerfile.lineage(dockerfile.final_stage().index);
  for (const DockerfileStage& stage : dockerfile.stages()) {
    const bool in_final_image = std::find(shipped.begin(), shipped.end(), stage.index) != shipped.end();
    for (const DockerfileValue& v : stage.args) judge(dockerfile, stage.index, "ARG", v, in_final_image, out);
    for (const DockerfileValue& v : stage.env) judge(dockerfile, stage.index, "ENV", v, in_final_image, out);
    for (const DockerfileValue& v : stage.labels) judge(dockerfile, stage.index, "LABEL", v, in_final_image, out);
  }
}

constexpr std::string_view kImageFix =
    "; anyone who can pull the image can read it (docker inspect, docker history). Rebuild without it: pass secrets "
    "at run time (a Kubernetes Secret through env valueFrom.secretKeyRef) and to build steps with RUN "
    "--mount=type=secret, and rotate the credential";

// The NAME=value words of a history step: build arguments (`|2 A=x B=y
// /bin/sh -c ...`), ENV and ARG steps. Whitespace-separated; values with
// blanks are cut at the blank, which is enough to tell a secret-like name
// with a value.
std::vector<std::pair<std::string_view, std::string_view>> assignments(std::string_view text) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    const std::string_view word = text.substr(start, i - start);
    const auto eq = word.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string_view value = word.substr(eq + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    out.emplace_back(word.substr(0, eq), value);
  }
  return out;
}

bool references_variable(std::string_view value) { return value.find('$') != std::string_view::npos; }

void check_image(const ImageSubject& in, const RuleParams&, ImageFindings& out) {
  if (in.facts == nullptr) return;
  for (std::size_t i = 0; i < in.facts->images.size(); ++i) {
    const PlatformImage& image = in.facts->images[i];
    const ImageConfig& config = *image.config;
    const std::string what = image_phrase(*in.facts, image);
    for (std::size_t k = 0; k < config.env.size(); ++k) {
      const ImageEnvVar& e = config.env[k];
      FieldPath path = config_path("Env");
      path.push_index(k);
      if (auto kind = secret_like_value(e.value)) {
        out.add(i, std::move(path),
                what + "'s environment variable " + e.name + " has a value that looks like " + std::string(*kind) +
                    std::string(kImageFix));
      } else if (secret_like_name(e.name) && !e.value.empty() && !names_a_secret_file(e.name, e.value)) {
        out.add(i, std::move(path),
                what + "'s environment variable " + e.name + " has a value and its name says it is a secret" +
                    std::string(kImageFix));
      }
    }
    for (std::size_t h = 0; h < config.history.size(); ++h) {
      const std::string& step = config.history[h].created_by;
      const std::string where = what + "'s history step " + std::to_string(h + 1) + " (docker history)";
      if (auto kind = secret_like_value(step)) {
        out.add(i, history_path(h), where + " holds a value that looks like " + std::string(*kind) +
                                        std::string(kImageFix));
        continue;
      }
      for (const auto& [name, value] : assignments(step)) {
        if (value.empty() || references_variable(value) || !secret_like_name(name) ||
            names_a_secret_file(name, value)) {
          continue;
        }
        out.add(i, history_path(h),
                where + " records a value for " + std::string(name) + ", whose name says it is a secret" +
                    std::string(kImageFix));
        break;
      }
    }
  }
}

}  // namespace

const Rule& image_secrets() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-secrets",
              .summary = "A literal secret in an image's Env or history, or a Dockerfile's ENV, ARG default or LABEL.",
              .description =
                  "Judges Dockerfiles: every ENV, ARG and LABEL, in every stage and before the first FROM (a "
                  "secret in a build stage is still in the Dockerfile and its git history), with the detector of "
                  "no-secret-literals. Fails on a value that looks like a credential (PEM private key, AWS access "
                  "key id, JWT, well-known token prefixes) whatever its name; on a literal value, after ARG and "
                  "ENV substitution, under a secret-like name (PASSWORD, SECRET, TOKEN, API_KEY, ... as whole "
                  "words), except *_FILE, *_PATH and *_DIR names holding an absolute path; on an ENV with a "
                  "secret-like name whose value only copies build arguments (ENV DB_PASSWORD=$DB_PASSWORD), which "
                  "bakes the build-time value into the image's environment; and on an ARG with a secret-like name "
                  "and no default in the final stage or a stage it is built FROM, whose --build-arg value "
                  "`docker history` shows. Judges images: each Env entry of the config of each platform image judged "
                  "(a credential-like value, or a value under a secret-like name), and each history step's "
                  "created_by (a credential-like value anywhere, or NAME=value with a secret-like name and a "
                  "literal value: build arguments and ENV/ARG steps). Messages never repeat the value. "
                  "With image lookups on (images.lookup), it also judges the image of every container of a workload, "
                  "with the finding on the container's image field.",
              .rationale =
                  "ENV values and labels are part of the image's configuration, and build arguments are recorded "
                  "in its history: anyone who can pull the image can read them, long after the Dockerfile is "
                  "fixed. The contract takes every secret from the environment at run time.",
              .remediation =
                  "Remove the value; pass secrets at run time (a Kubernetes Secret through "
                  "env[].valueFrom.secretKeyRef) and to build steps with RUN --mount=type=secret,id=... (BuildKit "
                  "secret mounts never reach a layer); rotate any credential that was committed.",
          },
      .contract_action = Action::kDeny,
      .dockerfile_check = check_dockerfile,
      .image_check = check_image,
  };
  return kRule;
}

}  // namespace podguard::rules

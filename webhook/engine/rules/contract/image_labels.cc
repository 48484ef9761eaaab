// image-labels: the image says where it comes from (OCI annotations).
//
// Reads, in a Dockerfile, the LABELs in force at the end of the final stage
// (set in it or inherited through FROM <stage>). Fails when a label of
// `required` is missing, when one is set to an empty literal, and when one
// refers to a variable that has no value in its stage: an ARG declared only
// before the first FROM is seen by FROM lines alone until the stage
// declares it again, so such a label comes out empty.
#include <algorithm>

#include "engine/facts/dockerfile_facts.h"
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/dockerfile_text.h"
#include "engine/rules/contract/image_config_text.h"

namespace podguard::rules {
namespace {

// True when `name` is declared by an ARG in `stage` before `instruction`
// (without a value: --build-arg gives it one).
bool declared_in_stage(const DockerfileStage& stage, std::string_view name, std::size_t instruction) {
  return std::any_of(stage.args.begin(), stage.args.end(),
                     [&](const DockerfileValue& a) { return a.name == name && a.instruction < instruction; });
}

void check_dockerfile(const DockerfileFacts& dockerfile, const RuleParams& params, DockerfileFindings& out) {
  const DockerfileStage& final_stage = dockerfile.final_stage();
  std::vector<std::string> missing;
  for (const Json& item : json::items(json::field(&params, "required"))) {
    const std::string name(json::as_string(&item));
    if (name.empty()) continue;
    const DockerfileValue* label = dockerfile.label(final_stage.index, name);
    if (label == nullptr) {
      missing.push_back(name);
      continue;
    }
    const std::size_t stage = dockerfile.stage_of(label->instruction).value_or(final_stage.index);
    const std::string where = "label " + name + " in " + stage_phrase(dockerfile, stage);
    std::vector<std::string> undeclared;
    for (const std::string& var : label->unset) {
      if (!declared_in_stage(dockerfile.stages()[stage], var, label->instruction)) undeclared.push_back(var);
    }
    if (!undeclared.empty()) {
      const std::string& var = undeclared.front();
      const bool global = dockerfile.global_arg(var) != nullptr;
      out.add(stage, label->instruction, label->pos,
              where + " refers to " + join_names(undeclared) + ", which " + (undeclared.size() == 1 ? "has" : "have") +
                  " no value in that stage" +
                  (global ? " (an ARG declared before the first FROM is seen only by FROM lines until the stage "
                            "declares it again)"
                          : "") +
                  ", so the label comes out empty; add ARG " + var + " to the stage before the LABEL");
    } else if (label->value.empty() && !label->references) {
      out.add(stage, label->instruction, label->pos, where + " is empty; set it to the real value");
    }
  }
  if (!missing.empty()) {
    std::string example;
    for (const std::string& name : missing) example += (example.empty() ? "LABEL " : " ") + name + "=...";
    out.add(final_stage.index, final_stage.from, dockerfile.instruction(final_stage.from).pos,
            stage_phrase(dockerfile, final_stage.index) + " lacks the label" + (missing.size() == 1 ? " " : "s ") +
                join_names(missing) + "; add " + example +
                " (values that change per build from ARGs set by CI, e.g. --build-arg REVISION=$(git rev-parse "
                "HEAD))");
  }
}

void check_image(const ImageSubject& in, const RuleParams& params, ImageFindings& out) {
  if (in.facts == nullptr) return;
  for (std::size_t i = 0; i < in.facts->images.size(); ++i) {
    const PlatformImage& image = in.facts->images[i];
    std::vector<std::string> missing;
    std::vector<std::string> empty;
    for (const Json& item : json::items(json::field(&params, "required"))) {
      const std::string name(json::as_string(&item));
      if (name.empty()) continue;
      const std::string* value = image.config->label(name);
      if (value == nullptr) {
        missing.push_back(name);
      } else if (value->empty()) {
        empty.push_back(name);
      }
    }
    const std::string what = image_phrase(*in.facts, image);
    if (!missing.empty()) {
      out.add(i, config_path("Labels"),
              what + " lacks the label" + (missing.size() == 1 ? " " : "s ") + join_names(missing) +
                  "; set them in the final stage of its Dockerfile (LABEL " + missing.front() +
                  "=...) or with docker build --label");
    }
    if (!empty.empty()) {
      out.add(i, config_path("Labels"),
              what + " has the label" + (empty.size() == 1 ? " " : "s ") + join_names(empty) +
                  " set to an empty value; set " + (empty.size() == 1 ? "it" : "them") + " to the real value");
    }
  }
}

}  // namespace

const Rule& image_labels() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-labels",
              .summary = "An image without the OCI labels in required (source, revision, version).",
              .description =
                  "Judges Dockerfiles: the LABELs in force at the end of the final stage, set in it or in the "
                  "stages it is built FROM (labels of the base image are the base's, not the application's, and "
                  "cannot be seen from the Dockerfile). Fails when a label named in required is missing, when one "
                  "is set to an empty literal, and when one refers to a variable that has no value in its stage "
                  "and is not declared there by an ARG (an ARG declared before the first FROM is seen only by FROM "
                  "lines until the stage declares it again, so the label would come out empty). A label whose "
                  "value comes from an ARG declared in the stage without a default passes: CI sets it with "
                  "--build-arg. Judges images: the config's Labels of each platform image judged; a required "
                  "label that is missing or empty fails. "
                  "With image lookups on (images.lookup), it also judges the image of every container of a workload, "
                  "with the finding on the container's image field.",
              .rationale =
                  "org.opencontainers.image.source, .revision and .version tie a running image to the commit and "
                  "release it was built from: what an incident responder, a vulnerability scanner and a rollback "
                  "need first.",
              .remediation =
                  "Declare the labels in the final stage from build arguments: ARG VERSION REVISION, then LABEL "
                  "org.opencontainers.image.source=https://github.com/org/app "
                  "org.opencontainers.image.revision=$REVISION org.opencontainers.image.version=$VERSION, and "
                  "pass --build-arg REVISION=$(git rev-parse HEAD) in CI.",
              .params =
                  {
                      {.name = "required",
                       .type = ParamType::kStringList,
                       .default_value = Json::array({"org.opencontainers.image.source",
                                                     "org.opencontainers.image.revision",
                                                     "org.opencontainers.image.version"}),
                       .description = "Labels the final image must carry."},
                  },
          },
      .contract_action = Action::kAudit,
      .dockerfile_check = check_dockerfile,
      .image_check = check_image,
  };
  return kRule;
}

}  // namespace podguard::rules

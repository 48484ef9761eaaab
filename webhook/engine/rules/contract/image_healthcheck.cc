// image-healthcheck: the image declares how to tell that it is healthy.
//
// Reads, in a Dockerfile, the HEALTHCHECK in force at the end of the final
// stage (its last one, else inherited through FROM <stage>). Fails when
// there is none, or when it is HEALTHCHECK NONE.
#include "engine/facts/dockerfile_facts.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/dockerfile_text.h"
#include "engine/rules/contract/image_config_text.h"

namespace podguard::rules {
namespace {

constexpr std::string_view kExample =
    "HEALTHCHECK --interval=10s --timeout=3s CMD [\"/app/server\", \"healthcheck\"] (or a probe of its health "
    "endpoint)";

void check_dockerfile(const DockerfileFacts& dockerfile, const RuleParams&, DockerfileFindings& out) {
  const DockerfileStage& final_stage = dockerfile.final_stage();
  if (!final_stage.healthcheck) {
    out.add(final_stage.index, final_stage.from, dockerfile.instruction(final_stage.from).pos,
            "no HEALTHCHECK in " + stage_phrase(dockerfile, final_stage.index) +
                (final_stage.parent ? " or the stages it is built FROM" : "") + "; add one to the final stage, e.g. " +
                std::string(kExample));
    return;
  }
  const Instruction& ins = dockerfile.instruction(*final_stage.healthcheck);
  if (ins.args.size() >= 4 && (ins.args[0] == 'N' || ins.args[0] == 'n')) {  // NONE; the parser accepts nothing else but CMD
    const std::size_t stage = dockerfile.stage_of(*final_stage.healthcheck).value_or(final_stage.index);
    out.add(stage, *final_stage.healthcheck, ins.pos,
            "HEALTHCHECK NONE in " + stage_phrase(dockerfile, stage) +
                " turns the health check off, also one the base image declares; replace it with a check, e.g. " +
                std::string(kExample));
  }
}

void check_image(const ImageSubject& in, const RuleParams&, ImageFindings& out) {
  if (in.facts == nullptr) return;
  for (std::size_t i = 0; i < in.facts->images.size(); ++i) {
    const PlatformImage& image = in.facts->images[i];
    const ImageConfig& config = *image.config;
    const std::string what = image_phrase(*in.facts, image);
    if (!config.healthcheck || config.healthcheck->test.empty()) {
      out.add(i, config_path("Healthcheck"),
              what + " declares no HEALTHCHECK; add one to the final stage of its Dockerfile, e.g. " +
                  std::string(kExample));
    } else if (config.healthcheck->disabled()) {
      out.add(i, config_path("Healthcheck"),
              what + " has HEALTHCHECK NONE, which turns the health check off; replace it with a check, e.g. " +
                  std::string(kExample));
    }
  }
}

}  // namespace

const Rule& image_healthcheck() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-healthcheck",
              .summary = "An image without a HEALTHCHECK, or with HEALTHCHECK NONE.",
              .description =
                  "Judges Dockerfiles: the HEALTHCHECK in force at the end of the final stage, which is its last "
                  "HEALTHCHECK, else the last one of the stage it is built FROM, and so on up the FROM <stage> "
                  "chain. Fails when there is none (one in the base image cannot be seen from the Dockerfile, and "
                  "the contract wants it declared where the service is built) and when the one in force is "
                  "HEALTHCHECK NONE. Judges images: the config's Healthcheck of each platform image judged, which "
                  "fails when absent, empty or NONE. "
                  "With image lookups on (images.lookup), it also judges the image of every container of a workload, "
                  "with the finding on the container's image field.",
              .rationale =
                  "The contract has every service health-checked by its orchestrator. A HEALTHCHECK makes the image "
                  "say how: docker, compose and swarm use it directly, and it documents the command and endpoint "
                  "the Kubernetes liveness and readiness probes should use.",
              .remediation =
                  "Add a HEALTHCHECK to the final stage that probes the service's health endpoint, in exec form, "
                  "e.g. HEALTHCHECK --interval=10s --timeout=3s CMD [\"/app/server\", \"healthcheck\"].",
          },
      .contract_action = Action::kWarn,
      .dockerfile_check = check_dockerfile,
      .image_check = check_image,
  };
  return kRule;
}

}  // namespace podguard::rules

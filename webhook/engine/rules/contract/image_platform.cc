// image-platform: the image exists for a platform the cluster runs.
//
// Reads the platforms the image offers and the images the lookup found for
// the platforms the policy judges (images.platforms). Fails when it found
// none: a node of those platforms cannot run the image.
#include "engine/facts/image_facts.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/dockerfile_text.h"

namespace podguard::rules {
namespace {

void check_image(const ImageSubject& in, const RuleParams&, ImageFindings& out) {
  if (in.facts == nullptr || !in.facts->images.empty()) return;
  std::vector<std::string> offered;
  for (const ImagePlatform& p : in.facts->offered) offered.push_back(p.to_string());
  FieldPath path;
  path.push_key("manifests");
  out.add(ImageFindings::kWholeImage, std::move(path),
          "the image has no image for any of the platforms the policy judges (images.platforms); it offers " +
              (offered.empty() ? std::string("none") : join_names(offered)) +
              ", so a node of those platforms fails to run it (exec format error or no matching manifest); build "
              "and push it for those platforms (docker buildx build --platform ...) or fix images.platforms");
}

}  // namespace

const Rule& image_platform() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-platform",
              .summary = "An image with no image for any of the platforms the policy judges.",
              .description =
                  "Judges images: the platforms a reference offers (the entries of its index, attestation entries "
                  "left out, or the platform its config states) against images.platforms in the configuration. "
                  "Fails when none of those platforms is offered. A single-platform image whose config states no "
                  "platform counts as one for any platform. "
                  "With image lookups on (images.lookup), it also judges the image of every container of a workload, "
                  "with the finding on the container's image field.",
              .rationale =
                  "A node pulls the entry of an index that matches its own platform; with none, the pod fails to "
                  "start (no matching manifest), or an image built for another architecture fails with exec "
                  "format error. Admission is the place to find out, not the rollout.",
              .remediation =
                  "Build and push the image for the cluster's platforms, e.g. docker buildx build --platform "
                  "linux/amd64,linux/arm64 --push, or set images.platforms to the platforms the nodes run.",
          },
      .contract_action = Action::kDeny,
      .image_check = check_image,
  };
  return kRule;
}

}  // namespace podguard::rules

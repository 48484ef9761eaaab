// image-resolvable: the image a reference names exists.
//
// Reads what the registry answered for the reference. Fails when it says
// the repository, tag or digest does not exist (a 404, MANIFEST_UNKNOWN,
// NAME_UNKNOWN). A registry that fails or cannot be reached is not this
// rule's case: images.onError decides then, and on a workload's containers
// evaluate_object reports such a failure under this rule's id, at the
// action images.onError gives.
#include "engine/facts/image_facts.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

void check_image(const ImageSubject& in, const RuleParams&, ImageFindings& out) {
  if (in.facts != nullptr) return;
  out.add(ImageFindings::kWholeImage, FieldPath(),
          "the registry says " + std::string(in.reference) + " does not exist" +
              (in.not_found.empty() ? std::string() : " (" + std::string(in.not_found) + ")") +
              ", so a pod using it stays in ImagePullBackOff; check the repository and tag, and that the image "
              "was pushed");
}

}  // namespace

const Rule& image_resolvable() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-resolvable",
              .summary = "An image reference the registry says does not exist.",
              .description =
                  "Judges images: the registry's answer for the reference. Fails when the registry says the "
                  "repository, tag or digest does not exist (404, MANIFEST_UNKNOWN, NAME_UNKNOWN). A registry "
                  "that fails, refuses the credentials or cannot be reached within the budget is not judged by "
                  "this rule: images.onError decides what happens then. "
                  "With image lookups on (images.lookup), it also judges the image of every container of a workload, "
                  "with the finding on the container's image field; a lookup that failed is then this rule's finding "
                  "on each container using the image, at the action images.onError gives (never stricter than this "
                  "rule's own).",
              .rationale =
                  "A typo in a tag or an image that was never pushed leaves the pod in ImagePullBackOff after the "
                  "rollout has started; the registry can say so before.",
              .remediation = "Fix the repository or tag, or push the image before deploying it.",
          },
      .contract_action = Action::kDeny,
      .image_check = check_image,
  };
  return kRule;
}

}  // namespace podguard::rules

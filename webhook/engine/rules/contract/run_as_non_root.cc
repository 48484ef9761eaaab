// run-as-non-root: every container (init, regular, ephemeral) must run as a
// non-root user.
//
// Reads securityContext.runAsUser and securityContext.runAsNonRoot of each
// container, falling back to spec.securityContext for whichever is unset.
// Allows: effective runAsUser >= minUid, or effective runAsNonRoot: true with
// runAsUser unset (the kubelet then refuses to start an image whose user is
// root). Fails: runAsUser 0 or runAsNonRoot: false wherever it takes effect,
// a runAsUser below minUid, or neither field set.
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/run_as.h"

namespace podguard::rules {
namespace {

std::string where(Origin origin) {
  return origin == Origin::kPod ? " in the pod securityContext, and the container does not override it" : "";
}

void check(const PodView& pod, const RuleParams& params, Findings& out) {
  const std::int64_t min_uid = params.value("minUid", std::int64_t{1});
  const std::string example = std::to_string(std::max<std::int64_t>(min_uid, 1001));
  for (const ContainerView& c : pod.containers()) {
    const RunAs r = evaluate_run_as(pod, c, min_uid);
    switch (r.verdict) {
      case RunAs::Verdict::kNonRoot:
        break;
      case RunAs::Verdict::kUserZero:
        out.add(
            &c, [&] { return pod.effective_path(c, r.user.origin, {"runAsUser"}); },
            [&] {
              return "runAsUser is 0 (root)" + where(r.user.origin) + "; set runAsUser to a non-root UID such as " +
                     example + " and runAsNonRoot: true";
            });
        break;
      case RunAs::Verdict::kNonRootFalse:
        out.add(
            &c, [&] { return pod.effective_path(c, r.non_root.origin, {"runAsNonRoot"}); },
            [&] {
              return "runAsNonRoot is false" + where(r.non_root.origin) +
                     ", so the container may run as root; set runAsNonRoot: true and runAsUser: " + example;
            });
        break;
      case RunAs::Verdict::kUserBelowMin:
        out.add(
            &c, [&] { return pod.effective_path(c, r.user.origin, {"runAsUser"}); },
            [&] {
              return "runAsUser is " + std::to_string(*r.uid) + where(r.user.origin) + ", below the minimum UID " +
                     std::to_string(min_uid) + "; set runAsUser to " + example + " or another UID of at least " +
                     std::to_string(min_uid);
            });
        break;
      case RunAs::Verdict::kUnknown:
        out.add(
            &c, [&] { return pod.effective_path(c, Origin::kContainer, {}); },
            [&] {
              return "neither runAsUser nor runAsNonRoot is set on the container or the pod (the image may run as "
                     "root); set securityContext.runAsNonRoot: true and runAsUser: " +
                     example;
            });
        break;
    }
  }
}

}  // namespace

const Rule& run_as_non_root() {
  static const Rule kRule{
      .doc =
          {
              .id = "run-as-non-root",
              .summary = "A container whose effective UID is 0 or may be 0.",
              .description =
                  "Checks every container, init container and ephemeral container. The effective runAsUser and "
                  "runAsNonRoot are the container's securityContext values, falling back to the pod's "
                  "spec.securityContext. A container passes when its effective runAsUser is at least minUid, or "
                  "when its effective runAsNonRoot is true and runAsUser is unset. An explicit runAsUser: 0 or "
                  "runAsNonRoot: false wherever it takes effect fails, as does a runAsUser below minUid and a "
                  "container with neither field set (the image's USER decides, and that is often root).",
              .rationale =
                  "A process running as root inside the container is one kernel or runtime bug away from root on "
                  "the node, and can write anywhere the filesystem allows. The contract runs the API as the "
                  "numeric UID 1001.",
              .remediation =
                  "Set securityContext.runAsNonRoot: true and a numeric securityContext.runAsUser (1001) on the "
                  "pod, and build the image with a numeric non-root USER.",
              .params = {{.name = "minUid",
                          .type = ParamType::kInt,
                          .default_value = 1,
                          .description = "Lowest UID accepted as non-root; an explicit runAsUser below it fails.",
                          .min = 1,
                          .max = 2147483647}},
          },
      .contract_action = Action::kDeny,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

// run-as-non-root: every container (init, regular, ephemeral) must run as a
// non-root user.
//
// Reads securityContext.runAsUser and securityContext.runAsNonRoot of each
// container, falling back to spec.securityContext for whichever is unset,
// and, when image lookups found the container's image, the USER of each
// platform image judged (config.User, read as the kubelet reads it: see
// run_as.h). Allows: effective runAsUser >= minUid; with runAsUser unset, an
// image USER that is a UID >= minUid (runAsNonRoot true or unset); without
// image facts, effective runAsNonRoot: true with runAsUser unset (the
// kubelet then refuses to start an image whose user is root). Fails:
// runAsUser 0 or runAsNonRoot: false wherever it takes effect, a runAsUser
// below minUid, neither field set and the image unknown, and with runAsUser
// unset an image USER that is empty, 0, a name, below minUid or not a UID.
// Windows pods are judged by the spec alone.
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/run_as.h"

namespace podguard::rules {
namespace {

std::string where(Origin origin) {
  return origin == Origin::kPod ? " in the pod securityContext, and the container does not override it" : "";
}

std::string image_subject(const RunAs& r, const RunAs::ImageUserVerdict& u) {
  std::string out = "image \"" + std::string(r.image) + "\"";
  if (r.image_users.size() == 1) return out;  // every platform image judged has this USER
  out += " for ";
  for (std::size_t i = 0; i < u.platforms.size(); ++i) out += (i > 0 ? ", " : "") + u.platforms[i]->platform.to_string();
  return out;
}

// What the kubelet does when runAsNonRoot is true and runAsUser unset
// (verifyRunAsNonRoot, pkg/kubelet/kuberuntime/security_context_others.go).
std::string refused(const RunAs& r, std::string_view kubelet_error) {
  return "; runAsNonRoot is true" + where(r.non_root.origin) +
         " and runAsUser is not set, so the kubelet will refuse to start the container (CreateContainerConfigError: " +
         std::string(kubelet_error) + ")";
}

// The message for a USER of the container's image that fails the rule.
std::string image_user_problem(const RunAs& r, const RunAs::ImageUserVerdict& u, std::int64_t min_uid,
                               const std::string& example) {
  const bool non_root = json::is_true(r.non_root.value);  // else unset: false is kNonRootFalse
  const std::string user = "USER \"" + std::string(u.user) + "\"";
  const std::string fix = "; set runAsUser: " + example + (non_root ? "" : " and runAsNonRoot: true") +
                          ", or build the image with the numeric USER " + example;
  std::string out = image_subject(r, u);
  switch (u.verdict) {
    case RunAs::Verdict::kImageRoot:
      if (u.user.empty()) {
        out += " sets no USER, so the container runs as root";
      } else if (u.user.substr(0, u.user.find(':')).empty()) {
        out += " has " + user + ", which names no user, so the container runs as root";
      } else {
        out += " has " + user + " (UID 0), so the container runs as root";
      }
      return out + (non_root ? refused(r, "container has runAsNonRoot and image will run as root")
                             : " (runAsUser is not set on the container or the pod)") + fix;
    case RunAs::Verdict::kImageName:
      out += " has " + user + ", the user name \"" + std::string(u.read.name) + "\" rather than a UID";
      if (non_root) {
        return out + refused(r, "image has non-numeric user (" + std::string(u.read.name) +
                                    "), cannot verify user is non-root") + fix;
      }
      return out + (u.read.name == "root" ? ", so the container runs as root" : ", so the container may run as root") +
             " (runAsUser is not set and nothing checks what UID the name has)" + fix;
    case RunAs::Verdict::kImageInvalidUid:
      out += " has " + user + ", which is not a UID Kubernetes accepts (0 to " + std::to_string(kMaxUid) + ")";
      return out + (non_root ? refused(r, "image has an invalid user id") : "") + fix;
    default:
      return out + " has " + user + " (UID " + std::to_string(u.read.uid.value_or(0)) + "), below the minimum UID " +
             std::to_string(min_uid) + ", and runAsUser is not set" + fix;
  }
}

void report_spec(const PodView& pod, const ContainerView& c, const RunAs& r, std::int64_t min_uid,
                 const std::string& example, Findings& out) {
  switch (r.verdict) {
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
    default:
      break;
  }
}

void check(const PodView& pod, const RuleParams& params, Findings& out) {
  const std::int64_t min_uid = params.value("minUid", std::int64_t{1});
  const std::string example = std::to_string(std::max<std::int64_t>(min_uid, 1001));
  for (const ContainerView& c : pod.containers()) {
    const RunAs r = evaluate_run_as(pod, c, min_uid);
    if (r.verdict == RunAs::Verdict::kNonRoot) continue;
    const bool by_image = r.verdict == RunAs::Verdict::kImageRoot || r.verdict == RunAs::Verdict::kImageName ||
                          r.verdict == RunAs::Verdict::kImageBelowMin ||
                          r.verdict == RunAs::Verdict::kImageInvalidUid;
    if (!by_image) {
      report_spec(pod, c, r, min_uid, example, out);
      continue;
    }
    for (const RunAs::ImageUserVerdict& u : r.image_users) {
      if (u.verdict == RunAs::Verdict::kNonRoot) continue;
      out.add(
          &c, [&] { return pod.container_path(c).key("image"); },
          [&] { return image_user_problem(r, u, min_uid, example); });
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
                  "container with neither field set (the image's USER decides, and that is often root). When "
                  "image lookups are on and found the container's image, runAsUser unset is judged as the kubelet "
                  "will run it: the USER of every platform image judged (the part before ':', a UID when it is a "
                  "decimal number, else a user name) passes when it is a UID of at least minUid, with or without "
                  "runAsNonRoot; an empty USER or UID 0 fails (runs as root), as do a UID below minUid or outside "
                  "0 to 2147483647, and a user name (the kubelet cannot check it: with runAsNonRoot: true it "
                  "refuses to start the container, CreateContainerConfigError). Windows pods are judged by the "
                  "spec alone.",
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

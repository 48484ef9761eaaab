// image-user: the image runs as a numeric, non-root user.
//
// Reads, in a Dockerfile, the USER in force at the end of the final stage:
// its last USER, else the last USER of the stage it is built FROM, and so
// on up the FROM <stage> chain, with ARG and ENV substituted. Only the user
// part of user:group is judged. Fails when there is none (the base image's
// user decides, which is root for most images), when it is 0 or root, when
// it is a name rather than a number, and when it depends on a build
// argument that has no value.
#include "engine/facts/dockerfile_facts.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/dockerfile_text.h"
#include "engine/rules/contract/image_config_text.h"

namespace podguard::rules {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

void check_dockerfile(const DockerfileFacts& dockerfile, const RuleParams&, DockerfileFindings& out) {
  const DockerfileStage& final_stage = dockerfile.final_stage();
  const std::string fix = "; set a numeric non-root user in the final stage, e.g. USER 1001:1001";
  if (!final_stage.user) {
    const DockerfileStage& root = dockerfile.root(final_stage.index);
    const std::string runs_as = root.base == "scratch"
                                    ? "FROM scratch has no user either, so the container runs as root"
                                    : "so the container runs as the user of the base image " + root.base +
                                          ", which is root for most images";
    out.add(final_stage.index, final_stage.from, dockerfile.instruction(final_stage.from).pos,
            "no USER in " + stage_phrase(dockerfile, final_stage.index) +
                (final_stage.parent ? " or the stages it is built FROM" : "") + ", " + runs_as + fix);
    return;
  }
  const DockerfileUser& user = *final_stage.user;
  const Instruction& ins = dockerfile.instruction(user.instruction);
  const SourcePos pos = ins.pos_at(0);
  const std::string written = "USER " + ins.args +
                              (user.stage == final_stage.index ? "" : " (in " + stage_phrase(dockerfile, user.stage) + ")");
  if (!user.unset.empty()) {
    out.add(user.stage, user.instruction, pos,
            written + " depends on " + join_names(user.unset) +
                ", which has no value there, so the user is only known at build time; give the ARG a numeric "
                "default (ARG " + user.unset.front() + "=1001) or write the UID" + fix.substr(1));
    return;
  }
  const std::string_view uid = std::string_view(user.value).substr(0, user.value.find(':'));
  if (uid.empty()) {
    out.add(user.stage, user.instruction, pos, written + " names no user, which means root" + fix);
  } else if (uid == "root" || (all_digits(uid) && uid.find_first_not_of('0') == std::string_view::npos)) {
    out.add(user.stage, user.instruction, pos, written + " runs the container as root" + fix);
  } else if (!all_digits(uid)) {
    out.add(user.stage, user.instruction, pos,
            written + " is a user name, not a UID: Kubernetes cannot tell that a named user is not root, so a pod "
                      "with runAsNonRoot: true and no runAsUser fails to start (CreateContainerConfigError); use "
                      "the numeric UID, e.g. USER 1001:1001");
  }
}

void check_image(const ImageSubject& in, const RuleParams&, ImageFindings& out) {
  if (in.facts == nullptr) return;
  const std::string fix = "; build it with a numeric non-root USER in its final stage, e.g. USER 1001:1001";
  for (std::size_t i = 0; i < in.facts->images.size(); ++i) {
    const PlatformImage& image = in.facts->images[i];
    const std::string& user = image.config->user;
    const std::string_view uid = std::string_view(user).substr(0, user.find(':'));
    const std::string what = image_phrase(*in.facts, image);
    if (user.empty()) {
      out.add(i, config_path("User"), what + " sets no USER, so its containers run as root" + fix);
    } else if (uid.empty()) {
      out.add(i, config_path("User"), what + "'s USER \"" + user + "\" names no user, which means root" + fix);
    } else if (uid == "root" || (all_digits(uid) && uid.find_first_not_of('0') == std::string_view::npos)) {
      out.add(i, config_path("User"), what + "'s USER \"" + user + "\" runs its containers as root" + fix);
    } else if (!all_digits(uid)) {
      out.add(i, config_path("User"),
              what + "'s USER \"" + user +
                  "\" is a user name, not a UID: Kubernetes cannot tell that a named user is not root, so a pod "
                  "with runAsNonRoot: true and no runAsUser fails to start (CreateContainerConfigError); use the "
                  "numeric UID, e.g. USER 1001:1001, or set runAsUser in the pod");
    }
  }
}

}  // namespace

const Rule& image_user() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-user",
              .summary = "An image whose USER is missing, root (0) or not numeric.",
              .description =
                  "Judges Dockerfiles: the USER in force at the end of the final stage (the stage `docker build` "
                  "builds without --target), which is its last USER, else the last USER of the stage it is built "
                  "FROM, and so on up the FROM <stage> chain, with ARG and ENV values substituted. Only the user "
                  "part of user:group is judged (group 0 is allowed, as OpenShift images use it). Fails when no "
                  "stage in the chain sets USER (the base image's user decides, which is root for most images and "
                  "always for FROM scratch), when the user is 0 or root, when it is a name rather than a numeric "
                  "UID, and when it depends on a build argument without a value. Judges images: the config's User "
                  "of each platform image judged, the part before ':' (empty, 0, root or a name fails). "
                  "With image lookups on (images.lookup), it also judges the image of every container of a workload, "
                  "with the finding on the container's image field.",
              .rationale =
                  "The contract runs the API as the numeric UID 1001. An image that runs as root by default runs "
                  "as root wherever a pod forgets runAsUser, and Kubernetes can only enforce runAsNonRoot for a "
                  "numeric USER: with a user name it refuses to start the pod.",
              .remediation =
                  "Create the user in a build step if the base has none and end the final stage with a numeric "
                  "USER, e.g. USER 1001:1001.",
          },
      .contract_action = Action::kWarn,
      .dockerfile_check = check_dockerfile,
      .image_check = check_image,
  };
  return kRule;
}

}  // namespace podguard::rules

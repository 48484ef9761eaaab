// image-pinned: every container runs an image pinned to an immutable tag or
// a digest.
//
// Reads the image of every container (init, regular, ephemeral) and parses it
// as the runtime does: `registry:5000/app` has no tag; `app@sha256:...` and
// `app:1.2@sha256:...` are pinned by digest. Fails: no image, an invalid
// reference, no tag and no digest, a tag matching disallowedTags (compared
// case-insensitively) without a digest, no digest when requireDigest, or a
// registry outside allowedRegistries when that list is not empty. When
// image lookups found the image, the finding names the digest to pin to.
//
// In a Dockerfile: the image of every FROM that does not name an earlier
// stage, after substituting the ARGs declared before the first FROM; FROM
// scratch passes, and an image that depends on an ARG without a default
// fails (it cannot be judged before the build).
#include <cctype>

#include "engine/facts/dockerfile_facts.h"
#include "engine/facts/image_facts.h"
#include "engine/facts/image_reference.h"
#include "engine/policy/glob.h"
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> string_list(const RuleParams& params, const char* key) {
  std::vector<std::string> out;
  for (const Json& v : json::items(json::field(&params, key))) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

bool tag_disallowed(const std::vector<std::string>& patterns, std::string_view tag) {
  const std::string t = lower(tag);
  for (const auto& p : patterns) {
    if (glob_match(lower(p), t)) return true;
  }
  return false;
}

// An allowedRegistries entry with a '/' matches registry/repository (e.g.
// "ghcr.io/acme/*"); one without matches the registry host ("*.acme.io").
bool registry_allowed(const std::vector<std::string>& patterns, const ImageReference& ref) {
  for (const auto& p : patterns) {
    const bool by_name = p.find('/') != std::string::npos;
    if (glob_match(p, by_name ? ref.name() : ref.registry)) return true;
  }
  return false;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The parameters, read once per object.
struct PinSettings {
  explicit PinSettings(const RuleParams& params)
      : disallowed(string_list(params, "disallowedTags")),
        allowed_registries(string_list(params, "allowedRegistries")),
        require_digest(params.value("requireDigest", false)) {}

  std::vector<std::string> disallowed;
  std::vector<std::string> allowed_registries;
  bool require_digest;
};

enum class Pin { kPinned, kInvalid, kRegistry, kNoTag, kDisallowedTag, kNoDigest };

Pin judge(const ImageParse& parsed, const PinSettings& s) {
  if (!parsed.ref) return Pin::kInvalid;
  const ImageReference& ref = *parsed.ref;
  if (!s.allowed_registries.empty() && !registry_allowed(s.allowed_registries, ref)) return Pin::kRegistry;
  if (!ref.digest.empty()) return Pin::kPinned;
  if (ref.tag.empty()) return Pin::kNoTag;
  if (tag_disallowed(s.disallowed, ref.tag)) return Pin::kDisallowedTag;
  return s.require_digest ? Pin::kNoDigest : Pin::kPinned;
}

// The fix when lookups found the image: the digest its tag resolves to
// now, beside the tag as written (a reference that is not pinned has no
// digest).
std::string pin_to_digest(std::string_view image, const ImageReference& ref, const ImageFacts& facts) {
  return "pin it to " + std::string(image) + "@" + facts.digest + " (what " +
         (ref.tag.empty() ? std::string(":latest") : ref.tag) + " resolves to now)";
}

// What is wrong with a reference that is not pinned, and what to write.
// `facts`: what lookups found for it, or nullptr.
std::string problem(Pin pin, std::string_view image, const ImageParse& parsed, const PinSettings& s,
                    const ImageFacts* facts = nullptr) {
  const std::string quoted = "image \"" + std::string(image) + "\"";
  if (pin == Pin::kInvalid) return quoted + " is not a valid image reference: " + parsed.error;
  const ImageReference& ref = *parsed.ref;
  if (facts != nullptr && !facts->digest.empty()) {
    switch (pin) {
      case Pin::kNoTag:
        return quoted + " has no tag, so it means the mutable :latest; " + pin_to_digest(image, ref, *facts);
      case Pin::kDisallowedTag:
        return quoted + " uses the mutable tag \"" + ref.tag + "\"; " + pin_to_digest(image, ref, *facts) +
               ", or to a release tag";
      case Pin::kNoDigest:
        return quoted + " is not pinned by digest and requireDigest is on; " + pin_to_digest(image, ref, *facts);
      default:
        break;
    }
  }
  auto fix = [&] {
    std::string base(image.substr(0, image.size() - (ref.tag.empty() ? 0 : ref.tag.size() + 1)));
    if (!ref.digest.empty()) base = base.substr(0, base.find('@'));
    return "pin it to a release tag or a digest, e.g. " + base + ":<version> or " + base + "@sha256:<digest>";
  };
  switch (pin) {
    case Pin::kRegistry:
      return quoted + " comes from " + ref.registry + ", which is not in allowedRegistries (" +
             join(s.allowed_registries) + "); use an image from an allowed registry";
    case Pin::kNoTag:
      return quoted + " has no tag, so it means the mutable :latest; " + fix();
    case Pin::kDisallowedTag:
      return quoted + " uses the mutable tag \"" + ref.tag + "\"; " + fix();
    case Pin::kNoDigest:
      return quoted + " is not pinned by digest and requireDigest is on; append @sha256:<digest> (e.g. " +
             std::string(image) + "@sha256:<digest>)";
    default:
      return quoted + " is pinned";
  }
}

void check(const PodView& pod, const RuleParams& params, Findings& out) {
  const PinSettings settings(params);
  for (const ContainerView& c : pod.containers()) {
    // Messages and paths are built for findings only: most images pass.
    auto path = [&] { return pod.container_path(c).key("image"); };
    const std::string_view image = c.image;
    if (image.empty()) {
      out.add(
          &c, path,
          [&] {
            return std::string(
                "no image is set; set image to a pinned reference such as registry.example.com/app:1.4.2 or "
                "app@sha256:<digest>");
          });
      continue;
    }
    const ImageParse parsed = parse_image_reference(image);
    const Pin pin = judge(parsed, settings);
    if (pin == Pin::kPinned) continue;
    const ImageAnswer* answer = c.image_answer;
    const ImageFacts* facts =
        answer != nullptr && answer->state == ImageAnswer::State::kFound ? answer->facts.get() : nullptr;
    out.add(&c, path, [&] { return problem(pin, image, parsed, settings, facts); });
  }
}

// Every FROM that names an image rather than an earlier stage, with the
// ARGs before the first FROM substituted. FROM scratch is no image.
void check_dockerfile(const DockerfileFacts& dockerfile, const RuleParams& params, DockerfileFindings& out) {
  const PinSettings settings(params);
  for (const DockerfileStage& stage : dockerfile.stages()) {
    if (stage.parent || lower(stage.base) == "scratch") continue;
    const Instruction& from = dockerfile.instruction(stage.from);
    const std::string written = from.args.substr(0, from.args.find_first_of(" \t"));
    if (!stage.base_unset.empty()) {
      std::string names;
      for (const std::string& n : stage.base_unset) names += (names.empty() ? "" : ", ") + n;
      out.add(stage.index, stage.from, stage.base_pos,
              "FROM " + written + " depends on build argument " + names +
                  ", which has no default, so the image is only known at build time; declare it before the first "
                  "FROM with a pinned default (ARG " + stage.base_unset.front() +
                  "=registry.example.com/base:1.4.2), which --build-arg can still override");
      continue;
    }
    const ImageParse parsed = parse_image_reference(stage.base);
    const Pin pin = judge(parsed, settings);
    if (pin == Pin::kPinned) continue;
    const std::string substituted = written == stage.base ? "" : " (" + written + ")";
    out.add(stage.index, stage.from, stage.base_pos,
            "FROM " + problem(pin, stage.base, parsed, settings) + substituted);
  }
}

}  // namespace

const Rule& image_pinned() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-pinned",
              .summary = "An image without a tag, with a disallowed tag (latest), or without a digest when "
                         "requireDigest.",
              .description =
                  "Parses the image of every container, init container and ephemeral container as the container "
                  "runtime does: registry:5000/app has a registry port and no tag; app@sha256:<digest> and "
                  "app:1.2@sha256:<digest> are pinned by digest, and a digest pins the image whatever the tag "
                  "says. Fails on an empty or invalid reference, no tag and no digest, a tag matching "
                  "disallowedTags (glob patterns, compared case-insensitively), no digest when requireDigest is "
                  "true, and a registry outside allowedRegistries when that list is not empty (an entry with a "
                  "'/' matches registry/repository, e.g. ghcr.io/acme/*; without, the registry host; images "
                  "without a registry come from docker.io). When image lookups are on and found the image, the "
                  "finding names the digest its tag resolves to now, to pin to (app:1.4@sha256:<digest>). In a "
                  "Dockerfile it judges the image of every FROM that does not name an earlier stage (FROM <stage> "
                  "is judged where that stage begins), after substituting the ARGs declared before the first "
                  "FROM; FROM scratch passes, and an image that depends on an ARG without a default fails, since "
                  "it cannot be known before the build.",
              .rationale =
                  "A mutable tag means the same manifest can run different code on different nodes or after a "
                  "reschedule, and a rollback may not roll anything back. Pinned images make deploys "
                  "reproducible and auditable.",
              .remediation =
                  "Use an immutable tag (a release version or git SHA, e.g. app:3f9c2ab) or a digest "
                  "(app@sha256:<digest>), from an allowed registry.",
              .params =
                  {
                      {.name = "disallowedTags",
                       .type = ParamType::kGlobList,
                       .default_value = Json::array({"latest"}),
                       .description = "Tags that never count as pinned (glob patterns, case-insensitive)."},
                      {.name = "requireDigest",
                       .type = ParamType::kBool,
                       .default_value = false,
                       .description = "Require every image to carry a digest (@sha256:...)."},
                      {.name = "allowedRegistries",
                       .type = ParamType::kGlobList,
                       .default_value = Json::array(),
                       .description = "Registries images may come from (host globs, or registry/repository "
                                      "globs when they contain '/'); empty allows any."},
                  },
          },
      .contract_action = Action::kDeny,
      .check = check,
      .dockerfile_check = check_dockerfile,
  };
  return kRule;
}

}  // namespace podguard::rules

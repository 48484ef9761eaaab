// image-pinned: every container runs an image pinned to an immutable tag or
// a digest.
//
// Reads the image of every container (init, regular, ephemeral) and parses it
// as the runtime does: `registry:5000/app` has no tag; `app@sha256:...` and
// `app:1.2@sha256:...` are pinned by digest. Fails: no image, an invalid
// reference, no tag and no digest, a tag matching disallowedTags (compared
// case-insensitively) without a digest, no digest when requireDigest, or a
// registry outside allowedRegistries when that list is not empty.
#include <cctype>

#include "engine/policy/glob.h"
#include "engine/facts/image_reference.h"
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

void check(const PodView& pod, const RuleParams& params, Findings& out) {
  const auto disallowed = string_list(params, "disallowedTags");
  const auto allowed_registries = string_list(params, "allowedRegistries");
  const bool require_digest = params.value("requireDigest", false);
  for (const ContainerView& c : pod.containers()) {
    // Messages and paths are built for findings only: most images pass.
    auto path = [&] { return pod.container_path(c).key("image"); };
    const std::string_view image = json::as_string(json::field(c.spec, "image"));
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
    auto quoted = [&] { return "image \"" + std::string(image) + "\""; };
    if (!parsed.ref) {
      out.add(
          &c, path, [&] { return quoted() + " is not a valid image reference: " + parsed.error; });
      continue;
    }
    const ImageReference& ref = *parsed.ref;
    auto fix = [&] {
      std::string base(image.substr(0, image.size() - (ref.tag.empty() ? 0 : ref.tag.size() + 1)));
      if (!ref.digest.empty()) base = base.substr(0, base.find('@'));
      return "pin it to a release tag or a digest, e.g. " + base + ":<version> or " + base + "@sha256:<digest>";
    };
    if (!allowed_registries.empty() && !registry_allowed(allowed_registries, ref)) {
      out.add(
          &c, path,
          [&] {
            return quoted() + " comes from " + ref.registry + ", which is not in allowedRegistries (" +
                   join(allowed_registries) + "); use an image from an allowed registry";
          });
      continue;
    }
    if (ref.digest.empty()) {
      if (ref.tag.empty()) {
        out.add(
            &c, path,
            [&] { return quoted() + " has no tag, so it means the mutable :latest; " + fix(); });
        continue;
      }
      if (tag_disallowed(disallowed, ref.tag)) {
        out.add(
            &c, path,
            [&] { return quoted() + " uses the mutable tag \"" + ref.tag + "\"; " + fix(); });
        continue;
      }
      if (require_digest) {
        out.add(
            &c, path,
            [&] {
              return quoted() + " is not pinned by digest and requireDigest is on; append @sha256:<digest> (e.g. " +
                     std::string(image) + "@sha256:<digest>)";
            });
      }
    }
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
                  "without a registry come from docker.io).",
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
  };
  return kRule;
}

}  // namespace podguard::rules

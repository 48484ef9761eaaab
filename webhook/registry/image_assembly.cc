#include "registry/image_assembly.h"

namespace podguard::registry {

Result<std::vector<ImagePlatform>> parse_platforms(const std::vector<std::string>& texts) {
  std::vector<ImagePlatform> out;
  for (const std::string& text : texts) {
    auto p = parse_platform(text);
    if (!p.ok()) return Status(p.error()).with_key("platforms");
    out.push_back(std::move(*p));
  }
  return out;
}

namespace {

Status assemble_index(const ImageManifest& index, const std::vector<ImagePlatform>& wanted, const ImageParts& parts,
                      ImageFacts& facts) {
  facts.multi_platform = true;
  facts.offered = offered_platforms(index);
  std::vector<const ImageDescriptor*> chosen;
  if (wanted.empty()) {
    for (const ImageDescriptor& d : index.manifests) {
      if (!d.attestation && d.platform) chosen.push_back(&d);
    }
  } else {
    chosen = select_platforms(index, wanted);
  }
  for (const ImageDescriptor* d : chosen) {
    auto m = parts.manifest(*d);
    if (!m.ok()) return m.status();
    if (!m->has_image_config()) return parts.not_an_image(*m, "the " + d->platform->to_string() + " entry " + d->digest);
    auto c = parts.config(m->config.digest);
    if (!c.ok()) return c.status();
    facts.images.push_back({*d->platform, d->digest, m->config.digest, std::move(*c)});
  }
  return Status();
}

}  // namespace

Status assemble_image(const ImageManifest& top, const std::vector<ImagePlatform>& wanted, const ImageParts& parts,
                      ImageFacts& facts) {
  if (top.is_index()) return assemble_index(top, wanted, parts, facts);
  if (!top.has_image_config()) return parts.not_an_image(top, "the manifest " + facts.digest);
  auto c = parts.config(top.config.digest);
  if (!c.ok()) return c.status();
  const ImagePlatform platform{(*c)->os, (*c)->architecture, (*c)->variant};
  if (!platform.os.empty()) facts.offered.push_back(platform);
  bool want = wanted.empty() || platform.os.empty();
  for (const ImagePlatform& p : wanted) want = want || platform_matches(p, platform);
  if (want) facts.images.push_back({platform, facts.digest, top.config.digest, std::move(*c)});
  return Status();
}

}  // namespace podguard::registry

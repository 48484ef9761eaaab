#include "engine/reading/image_manifest.h"

#include <nlohmann/json.hpp>

namespace podguard {
namespace {

using nlohmann::json;

bool platform_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// Runtimes spell some architectures two ways (containerd's platforms.Normalize).
std::string normalized_architecture(std::string_view arch) {
  if (arch == "x86_64" || arch == "x86-64") return "amd64";
  if (arch == "aarch64") return "arm64";
  if (arch == "i386") return "386";
  return std::string(arch);
}

std::string normalized_variant(std::string_view arch, std::string_view variant) {
  if (arch == "arm64" && (variant.empty() || variant == "8")) return "v8";
  return std::string(variant);
}

// A string member, "" when absent or null; a wrong type is an error.
Result<std::string> string_member(const json& obj, const char* key, std::string_view where) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Status::invalid_input(std::string(where) + "." + key + " is not a string");
  return it->get<std::string>();
}

Result<ImageDescriptor> read_descriptor(const json& v, const std::string& where) {
  if (!v.is_object()) return Status::invalid_input(where + " is not an object");
  ImageDescriptor d;
  auto media = string_member(v, "mediaType", where);
  if (!media.ok()) return media.status();
  d.media_type = std::move(*media);
  auto digest = string_member(v, "digest", where);
  if (!digest.ok()) return digest.status();
  if (std::string why = digest_problem(*digest); !why.empty()) {
    return Status::invalid_input(where + ".digest: " + why);
  }
  d.digest = std::move(*digest);
  if (const auto size = v.find("size"); size != v.end() && !size->is_null()) {
    if (!size->is_number_integer() || size->get<std::int64_t>() < 0) {
      return Status::invalid_input(where + ".size is not a byte count");
    }
    d.size = size->get<std::int64_t>();
  }
  if (const auto p = v.find("platform"); p != v.end() && !p->is_null()) {
    if (!p->is_object()) return Status::invalid_input(where + ".platform is not an object");
    ImagePlatform platform;
    for (auto [key, field] : {std::pair{"os", &platform.os}, std::pair{"architecture", &platform.architecture},
                              std::pair{"variant", &platform.variant}}) {
      auto s = string_member(*p, key, where + ".platform");
      if (!s.ok()) return s.status();
      *field = std::move(*s);
    }
    d.attestation = platform.os == "unknown" && platform.architecture == "unknown";
    d.platform = std::move(platform);
  }
  if (const auto a = v.find("annotations"); a != v.end() && a->is_object()) {
    const auto type = a->find("vnd.docker.reference.type");
    if (type != a->end() && type->is_string() && type->get<std::string>() == "attestation-manifest") {
      d.attestation = true;
    }
  }
  return d;
}

bool is_index_type(std::string_view t) { return t == media_type::kOciIndex || t == media_type::kDockerManifestList; }
bool is_manifest_type(std::string_view t) { return t == media_type::kOciManifest || t == media_type::kDockerManifest; }

// "application/json; charset=utf-8" -> "application/json".
std::string_view bare_type(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return t;
}

}  // namespace

std::string ImagePlatform::to_string() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

Result<ImagePlatform> parse_platform(std::string_view text) {
  std::vector<std::string_view> parts;
  for (std::string_view rest = text;;) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  bool valid = parts.size() == 2 || parts.size() == 3;
  for (std::string_view part : parts) {
    valid = valid && !part.empty();
    for (char c : part) valid = valid && platform_char(c);
  }
  if (!valid) {
    return Status::invalid_input(
        "platform \"" + std::string(text) +
        "\" is not os/architecture[/variant] in lowercase, e.g. linux/amd64 or linux/arm64/v8");
  }
  ImagePlatform p{std::string(parts[0]), std::string(parts[1]), ""};
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

bool platform_matches(const ImagePlatform& wanted, const ImagePlatform& offered) {
  if (wanted.os != offered.os) return false;
  const std::string arch = normalized_architecture(wanted.architecture);
  if (arch != normalized_architecture(offered.architecture)) return false;
  if (wanted.variant.empty()) return true;
  return normalized_variant(arch, wanted.variant) == normalized_variant(arch, offered.variant);
}

std::string digest_problem(std::string_view d) {
  const auto colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0) return "the digest must look like sha256:<64 hex digits>";
  const std::string_view algorithm = d.substr(0, colon);
  const std::string_view encoded = d.substr(colon + 1);
  for (char c : encoded) {
    if (!hex(c)) return "the digest must be lowercase hexadecimal after \"" + std::string(algorithm) + ":\"";
  }
  if (algorithm == "sha256" && encoded.size() != 64) return "a sha256 digest has exactly 64 hex digits";
  if (algorithm == "sha512" && encoded.size() != 128) return "a sha512 digest has exactly 128 hex digits";
  if (encoded.size() < 32) return "the digest is too short";
  for (char c : algorithm) {
    if (!platform_char(c) && c != '+') return "the digest's algorithm is not valid";
  }
  return "";
}

bool ImageManifest::has_image_config() const {
  return kind == Kind::kImage &&
         (config.media_type == media_type::kOciConfig || config.media_type == media_type::kDockerConfig);
}

Result<ImageManifest> parse_image_manifest(std::string_view text, std::string_view content_type) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    // The byte offset only: the text may be anything, quoting it could leak it.
    return Status::invalid_input("the manifest is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
  if (!doc.is_object()) return Status::invalid_input("the manifest is not a JSON object");
  if (const auto v = doc.find("schemaVersion"); v != doc.end() && v->is_number_integer() && v->get<int>() == 1) {
    return Status::invalid_input(
        "the manifest is Docker schema 1, which registries stopped serving in 2020; push the image again");
  }
  auto declared = string_member(doc, "mediaType", "manifest");
  if (!declared.ok()) return declared.status();

  ImageManifest m;
  const std::string_view served = bare_type(content_type);
  if (!declared->empty()) {
    m.media_type = *declared;
  } else if (is_index_type(served) || is_manifest_type(served)) {
    m.media_type = served;
  } else if (doc.contains("manifests")) {
    m.media_type = media_type::kOciIndex;
  } else if (doc.contains("config")) {
    m.media_type = media_type::kOciManifest;
  } else {
    return Status::invalid_input("the document is neither an image manifest nor an index");
  }

  if (is_index_type(m.media_type)) {
    m.kind = ImageManifest::Kind::kIndex;
    const auto list = doc.find("manifests");
    if (list == doc.end() || !list->is_array()) return Status::invalid_input("the index has no manifests list");
    for (std::size_t i = 0; i < list->size(); ++i) {
      auto d = read_descriptor((*list)[i], "manifests[" + std::to_string(i) + "]");
      if (!d.ok()) return d.status();
      m.manifests.push_back(std::move(*d));
    }
    return m;
  }
  if (!is_manifest_type(m.media_type)) {
    return Status::invalid_input("the manifest's media type \"" + m.media_type.substr(0, 100) +
                                 "\" is not an image manifest or index");
  }
  const auto config = doc.find("config");
  if (config == doc.end()) return Status::invalid_input("the manifest has no config");
  auto d = read_descriptor(*config, "config");
  if (!d.ok()) return d.status();
  m.config = std::move(*d);
  if (const auto layers = doc.find("layers"); layers != doc.end() && layers->is_array()) {
    m.layer_count = layers->size();
  }
  return m;
}

std::vector<ImagePlatform> offered_platforms(const ImageManifest& index) {
  std::vector<ImagePlatform> out;
  for (const ImageDescriptor& d : index.manifests) {
    if (d.attestation || !d.platform) continue;
    bool seen = false;
    for (const ImagePlatform& p : out) seen = seen || p == *d.platform;
    if (!seen) out.push_back(*d.platform);
  }
  return out;
}

std::vector<const ImageDescriptor*> select_platforms(const ImageManifest& index,
                                                     const std::vector<ImagePlatform>& wanted) {
  std::vector<const ImageDescriptor*> out;
  for (const ImagePlatform& w : wanted) {
    for (const ImageDescriptor& d : index.manifests) {
      if (d.attestation || !d.platform || !platform_matches(w, *d.platform)) continue;
      bool seen = false;
      for (const ImageDescriptor* chosen : out) seen = seen || chosen == &d;
      if (!seen) out.push_back(&d);
      break;
    }
  }
  return out;
}

}  // namespace podguard

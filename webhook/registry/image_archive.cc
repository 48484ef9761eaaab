#include "registry/image_archive.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "engine/facts/image_reference.h"
#include "registry/blob_digest.h"
#include "registry/image_assembly.h"
#include "registry/tar_reader.h"

namespace podguard::registry {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::size_t kMaxLinkHops = 8;
constexpr std::size_t kMaxLayoutFileBytes = 4096;  // oci-layout

Status entry_error(std::string_view name, const std::string& message) {
  return Status::invalid_input("entry " + printable_name(name) + ": " + message);
}

// `text` with every byte that is not printable ASCII as '?', whole: for
// messages that quote what the archive says (a media type, a platform), so
// that an archive cannot put terminal escapes in podguard's output.
std::string printable_text(std::string text) {
  for (char& c : text) {
    if (c < 0x20 || c >= 0x7f) c = '?';
  }
  return text;
}

// A parser's failure on entry `name`, with the key it names.
Status parse_error(std::string_view name, const Status& error) {
  return entry_error(name, printable_text(error.to_string()));
}

// The files of an archive by their path inside it.
class ArchiveFiles {
 public:
  virtual ~ArchiveFiles() = default;
  [[nodiscard]] virtual bool has(const std::string& name) const = 0;
  // The content of `name`, refused past `limit` bytes; `what` names what it
  // should be ("a manifest") in messages.
  [[nodiscard]] virtual Result<std::string> read(const std::string& name, std::size_t limit,
                                                 const std::string& what) const = 0;
};

Status over_limit(std::string_view name, std::uint64_t size, std::size_t limit, const std::string& what) {
  return Status::too_large("entry " + printable_name(name) + ": " + std::to_string(size) + " bytes, over the limit of " +
                           std::to_string(limit) + " for " + what);
}

// A tar's entries, JSON content kept, layers skipped as they streamed by.
class TarFiles : public ArchiveFiles {
 public:
  static Result<std::unique_ptr<TarFiles>> load(const std::string& path, const ArchiveOptions& options) {
    auto reader = TarReader::open(path);
    if (!reader.ok()) return reader.status();
    auto files = std::make_unique<TarFiles>();
    const std::size_t keep_limit = std::max(options.max_manifest_bytes, options.max_config_bytes);
    std::size_t kept = 0;
    for (;;) {
      auto next = (*reader)->next();
      if (!next.ok()) return next.status();
      if (!*next) break;
      TarEntry& e = **next;
      if (e.type == TarEntry::Type::kDirectory) continue;
      if (files->entries_.count(e.name) != 0) return entry_error(e.name, "appears twice in the archive");
      Entry entry{e.type, e.size, std::move(e.link_target), std::nullopt};
      if (e.type == TarEntry::Type::kFile && e.size <= keep_limit) {
        auto content = keep_if_json(**reader);
        if (!content.ok()) return content.status();
        if (*content && (kept += (*content)->size()) > options.max_json_bytes) {
          return Status::too_large("more than " + std::to_string(options.max_json_bytes) +
                                   " bytes of JSON entries, not an image archive");
        }
        entry.content = std::move(*content);
      }
      files->entries_.emplace(e.name, std::move(entry));
    }
    return files;
  }

  bool has(const std::string& name) const override { return entries_.count(name) != 0; }

  Result<std::string> read(const std::string& name, std::size_t limit, const std::string& what) const override {
    std::string at = name;
    for (std::size_t hop = 0;; ++hop) {
      const auto it = entries_.find(at);
      if (it == entries_.end()) {
        return Status::not_found("no entry " + printable_name(at) + " (" + what + ") in the archive" +
                                 (at == name ? "" : " (the link " + printable_name(name) + " points there)"));
      }
      const Entry& e = it->second;
      if (e.type == TarEntry::Type::kSymlink || e.type == TarEntry::Type::kHardLink) {
        if (hop == kMaxLinkHops) return entry_error(name, "more than 8 links in a row");
        const std::size_t slash = at.rfind('/');
        const std::string dir = e.type == TarEntry::Type::kHardLink || slash == std::string::npos ? "" : at.substr(0, slash);
        const std::optional<std::string> target = archive_path(dir, e.link);
        if (!target) {
          return entry_error(at, "a link to " + printable_name(e.link) + ", outside the archive");
        }
        at = *target;
        continue;
      }
      if (e.type != TarEntry::Type::kFile) return entry_error(at, "not a regular file (" + what + " was expected)");
      if (e.size > limit) return over_limit(at, e.size, limit, what);
      if (!e.content) return entry_error(at, "not JSON (" + what + " was expected)");
      return *e.content;
    }
  }

 private:
  struct Entry {
    TarEntry::Type type;
    std::uint64_t size;
    std::string link;
    std::optional<std::string> content;
  };

  // The entry's content when its first bytes say JSON, else nullopt (a
  // layer: left for next() to skip).
  static Result<std::optional<std::string>> keep_if_json(TarReader& reader) {
    auto head = reader.read(512);
    if (!head.ok()) return head.status();
    const std::size_t first = head->find_first_not_of(" \t\r\n");
    if (first == std::string::npos || ((*head)[first] != '{' && (*head)[first] != '[')) {
      return std::optional<std::string>();
    }
    auto rest = reader.read(static_cast<std::size_t>(reader.remaining()));
    if (!rest.ok()) return rest.status();
    return std::optional<std::string>(*head + *rest);
  }

  std::map<std::string, Entry> entries_;
};

// A directory: an OCI image layout, or an unpacked `docker save`.
class DirFiles : public ArchiveFiles {
 public:
  explicit DirFiles(fs::path root) : root_(std::move(root)) {}

  bool has(const std::string& name) const override {
    std::error_code ec;
    return fs::exists(root_ / name, ec);
  }

  Result<std::string> read(const std::string& name, std::size_t limit, const std::string& what) const override {
    std::error_code ec;
    const fs::path path = fs::canonical(root_ / name, ec);
    if (ec) return Status::not_found("no entry " + printable_name(name) + " (" + what + ") in the directory");
    const fs::path root = fs::canonical(root_, ec);
    const std::string rel = path.lexically_relative(root).string();
    if (ec || rel.empty() || rel.rfind("..", 0) == 0) {
      return entry_error(name, "a link to a file outside the directory");
    }
    if (!fs::is_regular_file(path, ec)) return entry_error(name, "not a regular file (" + what + " was expected)");
    const std::uintmax_t size = fs::file_size(path, ec);
    if (ec) return entry_error(name, "cannot be read: " + ec.message());
    if (size > limit) return over_limit(name, size, limit, what);
    std::ifstream in(path, std::ios::binary);
    std::string content(static_cast<std::size_t>(size), '\0');
    if (!in.read(content.data(), static_cast<std::streamsize>(size))) return entry_error(name, "cannot be read");
    return content;
  }

 private:
  fs::path root_;
};

// Blobs by digest, checked against it; configs parsed once per digest.
class Blobs {
 public:
  Blobs(const ArchiveFiles& files, const ArchiveOptions& options) : files_(files), options_(options) {}

  static std::string path_of(const std::string& digest) {
    const std::size_t colon = digest.find(':');
    return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
  }

  // The blob `digest` names at `path` (its blobs/ path when empty).
  Result<std::string> blob(const std::string& digest, std::size_t limit, const std::string& what,
                           std::int64_t size = -1, std::string path = "") const {
    if (const std::string problem = digest_problem(digest); !problem.empty()) {
      return Status::invalid_input(what + " named by a malformed digest: " + problem);
    }
    if (path.empty()) path = path_of(digest);
    auto content = files_.read(path, limit, what);
    if (!content.ok()) return content.status();
    const std::optional<std::string> actual = digest_of(*content, digest);
    if (actual != digest) {
      return entry_error(path, "its content's digest is " + actual.value_or("unknown") + ", not " + digest +
                                   " (a corrupt or altered archive)");
    }
    if (size >= 0 && static_cast<std::uint64_t>(size) != content->size()) {
      return entry_error(path, std::to_string(content->size()) + " bytes where its descriptor says " +
                                   std::to_string(size));
    }
    return content;
  }

  Result<ImageManifest> manifest(const ImageDescriptor& d) const {
    auto text = blob(d.digest, options_.max_manifest_bytes, "a manifest", d.size);
    if (!text.ok()) return text.status();
    auto m = parse_image_manifest(*text, d.media_type);
    if (!m.ok()) return parse_error(path_of(d.digest), m.error());
    return m;
  }

  Result<std::shared_ptr<const ImageConfig>> config(const std::string& digest, const std::string& path = "") {
    if (const auto it = configs_.find(digest); it != configs_.end()) return it->second;
    auto text = blob(digest, options_.max_config_bytes, "an image config", -1, path);
    if (!text.ok()) return text.status();
    auto c = parse_image_config(*text);
    if (!c.ok()) return parse_error(path.empty() ? path_of(digest) : path, c.error());
    auto shared = std::make_shared<const ImageConfig>(std::move(*c));
    configs_.emplace(digest, shared);
    return shared;
  }

 private:
  const ArchiveFiles& files_;
  const ArchiveOptions& options_;
  std::map<std::string, std::shared_ptr<const ImageConfig>> configs_;
};

// Facts with registry and name from `reference` when it is an image reference.
std::shared_ptr<ImageFacts> facts_for(const std::string& reference, const std::string& digest) {
  auto facts = std::make_shared<ImageFacts>();
  const ImageParse parsed = parse_image_reference(reference);
  if (parsed.ref) {
    facts->registry = parsed.ref->registry;
    facts->name = parsed.ref->name();
  }
  facts->digest = digest;
  return facts;
}

Result<std::shared_ptr<const ImageFacts>> assemble(const ImageManifest& top, std::shared_ptr<ImageFacts> facts,
                                                   Blobs& blobs, const ArchiveOptions& options,
                                                   const std::string& config_path = "") {
  ImageParts parts;
  parts.manifest = [&](const ImageDescriptor& d) { return blobs.manifest(d); };
  parts.config = [&](const std::string& digest) { return blobs.config(digest, config_path); };
  parts.not_an_image = [](const ImageManifest& m, const std::string& what) {
    return Status::invalid_input(printable_text(what) + " is not a container image (its config is \"" +
                                 printable_name(m.config.media_type) + "\")");
  };
  if (Status s = assemble_image(top, options.platforms, parts, *facts); !s.ok()) return s;
  return std::shared_ptr<const ImageFacts>(std::move(facts));
}

Result<json> parse_json(std::string_view name, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    return entry_error(name, "not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
}

// How outputs show an index.json entry (see image_archive.h).
std::string oci_reference(const json& entry, const std::string& display, const std::string& digest) {
  const json* annotations = entry.is_object() && entry.contains("annotations") ? &entry["annotations"] : nullptr;
  auto annotation = [&](const char* key) -> std::string {
    if (annotations == nullptr || !annotations->is_object() || !annotations->contains(key)) return "";
    const json& v = (*annotations)[key];
    return v.is_string() ? printable_name(v.get<std::string>()) : "";
  };
  if (std::string name = annotation("io.containerd.image.name"); !name.empty()) return name;
  const std::string ref = annotation("org.opencontainers.image.ref.name");
  if (ref.empty()) return display + "@" + digest;
  return ref.find_first_of("/:@") == std::string::npos ? display + ":" + ref : ref;
}

Status check_layout_file(const ArchiveFiles& files) {
  if (!files.has("oci-layout")) {
    return entry_error("index.json", "found, but no oci-layout file beside it: not an OCI image layout");
  }
  auto text = files.read("oci-layout", kMaxLayoutFileBytes, "the oci-layout file");
  if (!text.ok()) return text.status();
  auto doc = parse_json("oci-layout", *text);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object() || !doc->contains("imageLayoutVersion") || !(*doc)["imageLayoutVersion"].is_string()) {
    return entry_error("oci-layout", "has no imageLayoutVersion");
  }
  return Status();
}

Result<std::vector<ArchiveImage>> read_oci(const ArchiveFiles& files, const std::string& display,
                                           const ArchiveOptions& options) {
  if (Status s = check_layout_file(files); !s.ok()) return s;
  auto text = files.read("index.json", options.max_manifest_bytes, "the image index");
  if (!text.ok()) return text.status();
  auto index = parse_image_manifest(*text, media_type::kOciIndex);
  if (!index.ok()) return parse_error("index.json", index.error());
  if (!index->is_index()) return entry_error("index.json", "a manifest, where an image index was expected");
  auto doc = parse_json("index.json", *text);
  if (!doc.ok()) return doc.status();
  const json& entries = (*doc)["manifests"];
  Blobs blobs(files, options);
  std::vector<ArchiveImage> images;
  for (std::size_t i = 0; i < index->manifests.size(); ++i) {
    const ImageDescriptor& d = index->manifests[i];
    if (d.attestation) continue;
    std::string reference = oci_reference(i < entries.size() ? entries[i] : json(), display, d.digest);
    auto top = blobs.manifest(d);
    Result<std::shared_ptr<const ImageFacts>> facts =
        top.ok() ? assemble(*top, facts_for(reference, d.digest), blobs, options) : top.status();
    images.push_back({std::move(reference), std::move(facts)});
  }
  return images;
}

// The digest a legacy config's path names: "<hex>.json" (Docker < 25) or
// "blobs/sha256/<hex>" (Docker 25+).
std::string legacy_config_digest(const std::string& path) {
  std::string hex = path.substr(path.rfind('/') + 1);
  if (path.rfind("blobs/sha256/", 0) != 0) {
    if (hex.size() < 5 || hex.substr(hex.size() - 5) != ".json") return "";
    hex.resize(hex.size() - 5);
  }
  const std::string digest = "sha256:" + hex;
  return digest_problem(digest).empty() ? digest : "";
}

// One manifest.json entry: {Config, RepoTags, Layers}.
ArchiveImage legacy_image(const json& entry, std::size_t i, Blobs& blobs, const std::string& display,
                          const ArchiveOptions& options) {
  const std::string where = "manifest.json";
  const std::string item = "[" + std::to_string(i) + "]";
  ArchiveImage image{display + item, Status::internal("unset")};
  if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string()) {
    image.facts = entry_error(where, item + " has no Config");
    return image;
  }
  const std::string raw = entry["Config"].get<std::string>();
  const std::optional<std::string> path = archive_path("", raw);
  const std::string digest = path ? legacy_config_digest(*path) : "";
  if (digest.empty()) {
    image.facts = entry_error(where, item + ".Config \"" + printable_name(raw) +
                                         "\" is not a config named by its digest (<hex>.json or blobs/sha256/<hex>)");
    return image;
  }
  image.reference = display + "@" + digest;
  if (entry.contains("RepoTags") && entry["RepoTags"].is_array() && !entry["RepoTags"].empty() &&
      entry["RepoTags"][0].is_string()) {
    image.reference = printable_name(entry["RepoTags"][0].get<std::string>());
  }
  ImageManifest m;
  m.media_type = std::string(media_type::kDockerManifest);
  m.config.media_type = std::string(media_type::kDockerConfig);
  m.config.digest = digest;
  image.facts = assemble(m, facts_for(image.reference, digest), blobs, options, *path);
  return image;
}

Result<std::vector<ArchiveImage>> read_legacy(const ArchiveFiles& files, const std::string& display,
                                              const ArchiveOptions& options) {
  auto text = files.read("manifest.json", options.max_manifest_bytes, "docker save's manifest");
  if (!text.ok()) return text.status();
  auto doc = parse_json("manifest.json", *text);
  if (!doc.ok()) return doc.status();
  if (!doc->is_array()) return entry_error("manifest.json", "not a list of images");
  Blobs blobs(files, options);
  std::vector<ArchiveImage> images;
  for (std::size_t i = 0; i < doc->size(); ++i) images.push_back(legacy_image((*doc)[i], i, blobs, display, options));
  return images;
}

Result<std::vector<ArchiveImage>> read_files(const std::string& path, const std::string& display,
                                             const ArchiveOptions& options) {
  std::error_code ec;
  std::unique_ptr<ArchiveFiles> files;
  if (path != "-" && fs::is_directory(path, ec)) {
    files = std::make_unique<DirFiles>(path);
  } else {
    auto tar = TarFiles::load(path, options);
    if (!tar.ok()) return tar.status();
    files = std::move(*tar);
  }
  Result<std::vector<ArchiveImage>> images =
      files->has("index.json")      ? read_oci(*files, display, options)
      : files->has("manifest.json") ? read_legacy(*files, display, options)
                                    : Status::invalid_input(
                                          "neither index.json (an OCI image layout) nor manifest.json (docker save): "
                                          "not an image archive");
  if (images.ok() && images->empty()) return Status::invalid_input("the archive holds no image");
  return images;
}

}  // namespace

Result<std::vector<ArchiveImage>> read_image_archive(const std::string& path, const ArchiveOptions& options) {
  const std::string display = path == "-" ? "<stdin>" : path;
  auto images = read_files(path, display, options);
  if (!images.ok()) return Status(images.error()).with_file(display);
  for (ArchiveImage& image : *images) {
    if (!image.facts.ok()) image.facts = Status(image.facts.error()).with_file(display);
  }
  return images;
}

}  // namespace podguard::registry

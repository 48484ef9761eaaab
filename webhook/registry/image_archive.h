// Image facts from an image archive instead of a registry, so CI can judge
// an image before pushing it (`podguard image --archive FILE`). Reads:
//
// - an OCI image layout: a directory holding `oci-layout`, `index.json` and
//   `blobs/<algorithm>/<hex>` (skopeo, buildah, `docker buildx --output
//   type=oci`), or a tar of one (Docker 25+ `docker save`, which adds a
//   manifest.json that is then left unread). Each entry of index.json is an
//   image, shown as its `io.containerd.image.name` annotation, else its
//   `org.opencontainers.image.ref.name` (a bare tag as FILE:tag), else
//   FILE@digest; its digest is that of the manifest or index the entry
//   names.
// - a legacy `docker save` tarball (Docker before 25): manifest.json's
//   entries, each shown as its first RepoTags entry, else FILE@digest; its
//   digest is its config's (`<hex>.json`), the image ID Docker shows, since
//   such an archive holds no manifest.
//
// Plain or gzip-compressed tars, or standard input for "-". A tar is read
// in one pass (so a pipe will do): an entry within the size limits below
// whose first bytes are JSON is kept, every other entry (a layer) is
// skipped as the tar streams by, seeked over in a plain file; only the
// manifests, indexes and configs the images need are then parsed. A
// directory's files are read only when needed. Each blob's sha256 must
// equal its name. Index entries are chosen as the
// registry path chooses them (image_assembly.h: `platforms`, attestations
// left out).
//
// Failures are Statuses with the archive as their file and the entry in
// their message: for the archive as a whole (not a tar, truncated, a path
// that climbs out, no manifest), or for one image (a blob missing or not
// what its digest says) while the archive's other images are still read.
//
// A function over a file: safe to call from many threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/facts/image_facts.h"

namespace podguard::registry {

struct ArchiveOptions {
  // Which entries of a multi-platform index to judge; empty: all.
  std::vector<ImagePlatform> platforms;
  // A manifest, an index, index.json or manifest.json larger than this is
  // refused (the registry client's limit).
  std::size_t max_manifest_bytes = 4 << 20;
  // A config blob larger than this is refused (likewise).
  std::size_t max_config_bytes = 8 << 20;
  // All JSON entries of a tar kept while it streams by, in bytes.
  std::size_t max_json_bytes = 64 << 20;
};

struct ArchiveImage {
  std::string reference;  // as outputs show it (see above)
  Result<std::shared_ptr<const ImageFacts>> facts;
};

// Every image in the archive at `path`, in the order of its index.json or
// manifest.json.
Result<std::vector<ArchiveImage>> read_image_archive(const std::string& path, const ArchiveOptions& options);

}  // namespace podguard::registry

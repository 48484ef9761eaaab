// How an image's facts are put together from its top manifest, whichever
// source serves the manifests and configs: a registry (ImageLookup) or an
// image archive (image_archive.h). One place decides which entries of an
// index are judged (images.platforms; attestation entries never) and
// whether a single-platform image is one the policy wants, so `podguard
// image REF` and `podguard image --archive` judge an image alike.
//
// Pure functions over what the callbacks return; safe from any thread as
// long as the callbacks are.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/facts/image_facts.h"

namespace podguard::registry {

// Where the rest of an image comes from.
struct ImageParts {
  // The manifest an index entry names, its digest checked.
  std::function<Result<ImageManifest>(const ImageDescriptor& entry)> manifest;
  // The config blob `digest` names, its digest checked.
  std::function<Result<std::shared_ptr<const ImageConfig>>(const std::string& digest)> config;
  // The failure for `what` ("the linux/amd64 entry sha256:...", "the
  // manifest sha256:..."), a manifest `m` whose config is no container
  // image's (a Helm chart, a signature).
  std::function<Status(const ImageManifest& m, const std::string& what)> not_an_image;
};

// Reads images.platforms ("linux/amd64", ...); the Status names the bad one.
Result<std::vector<ImagePlatform>> parse_platforms(const std::vector<std::string>& texts);

// Fills facts.multi_platform, .offered and .images from `top`, the
// manifest or index facts.digest names: for an index, the entries of the
// `wanted` platforms (every platform when none is wanted), attestations
// left out; for a single manifest, its config, when its platform is wanted
// or it states none. The first failure of a part is returned as it is.
Status assemble_image(const ImageManifest& top, const std::vector<ImagePlatform>& wanted, const ImageParts& parts,
                      ImageFacts& facts);

}  // namespace podguard::registry

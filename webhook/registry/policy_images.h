// The glue between a policy's `images:` block and the registry client, for
// the commands that look images up (check, image, review, serve): the
// client's options from the config, and lookup results as the KnownImages
// the engine's rules read.
//
// Pure functions of their arguments; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "engine/facts/image_facts.h"
#include "engine/policy/policy.h"
#include "registry/image_lookup.h"
#include "registry/registry_options.h"

namespace podguard::registry {

// The registry client's options for the `images:` block (less lookup and
// onError, which the caller applies).
RegistryOptions registry_options(const ImageSettings& settings);

// Whether two configs' image settings make the same registry client (so a
// reloaded config can keep the lookup and its caches).
bool same_client(const ImageSettings& a, const ImageSettings& b);

// One answer per reference, in order: found; not found (the registry says
// so: image-resolvable's case); or failed, for any other Status (images.onError's
// case), with the registry the reference names and the Status's message.
KnownImages known_images(const std::vector<std::string>& references, const std::vector<ImageResult>& results);

}  // namespace podguard::registry

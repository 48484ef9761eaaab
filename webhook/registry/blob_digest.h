// The digest of a blob's bytes, as manifests and registries name blobs
// ("sha256:<hex>"): what the registry client and the archive reader check
// every manifest and config against.
//
// A pure function; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace podguard::registry {

// "algorithm:hex" of `data` with the algorithm of `like` ("sha256:..." or
// "sha512:..."); nullopt for another algorithm.
std::optional<std::string> digest_of(std::string_view data, std::string_view like = "sha256:");

}  // namespace podguard::registry

// Looking up the images of what a command judges, for the commands that
// run once (check, review): a registry client made from the policy's
// images: block, every image looked up in parallel, the answers as the
// KnownImages the engine reads.
//
// Call from one thread; the lookup's own threads end before it returns.
#pragma once

#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/facts/image_facts.h"
#include "engine/policy/policy.h"

namespace podguard::cli {

// One answer per image. The wait is images.timeoutSeconds per image at most
// (lookups run in parallel, so it is usually one timeout): a command line
// is not held to a review's deadline. An error only when the images: block
// cannot make a client (an unreadable caFile, malformed credentials);
// registries that fail are answers (ImageAnswer::kFailed), for onError.
Result<KnownImages> look_up(const Policy& policy, const std::vector<std::string>& images);

// The same within `budget_seconds` in all, as the webhook waits.
Result<KnownImages> look_up(const Policy& policy, const std::vector<std::string>& images, double budget_seconds);

}  // namespace podguard::cli

// Judging an image: every rule with an image check, at the action the
// policy gives it, with config exemptions applied.
//
// An image has no namespace, so namespace overrides never apply to it.
// Config exemptions match it this way:
//   names       glob against the reference as written
//   images      glob against the reference as written
//   namespaces  never: an exemption that lists namespaces covers no image
//   containers  glob against the platform a finding is about
//               ("linux/amd64"); findings about the whole image are not
//               covered then
//
// Reads the policy and the facts and changes neither; safe from many threads.
#pragma once

#include <string_view>

#include "engine/facts/image_facts.h"
#include "engine/policy/evaluate.h"

namespace podguard {

// kind "Image", name the reference, no namespace. A violation's `container`
// is the platform it is about, nullopt for the image as a whole.
ObjectVerdict evaluate_image(const Policy& policy, std::string_view reference, const ImageFacts& facts,
                             const EvalOptions& options);

// The verdict on a reference the registry says does not exist (its words in
// `reason`): only rules that judge a missing image (image-resolvable) find
// anything.
ObjectVerdict evaluate_missing_image(const Policy& policy, std::string_view reference, std::string_view reason,
                                     const EvalOptions& options);

}  // namespace podguard

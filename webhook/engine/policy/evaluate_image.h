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
// A lookup that failed (the registry erred, refused or did not answer in
// time) is judged by images.onError, as a finding of kImageLookupRule: see
// evaluate_unreachable_image. Workloads' containers get the same finding
// from evaluate_object (evaluate.h) when EvalOptions::images says so.
//
// Reads the policy and the facts and changes neither; safe from many threads.
#pragma once

#include <string>
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

// The rule a failed lookup is reported under. A failure is not the rule's
// case (the image may well exist), but like its findings it says the image
// could not be judged.
inline constexpr std::string_view kImageLookupRule = "image-resolvable";

// The action a failed lookup gets where kImageLookupRule is at
// `rule_action`: what images.onError says (allow: kOff; warn; deny), never
// stricter than `rule_action`. So the rule switched off (globally or by a
// namespace override) reports no failures either, and an override to warn
// turns onError: deny into warnings there; at the rule's default (deny) the
// action is images.onError's.
Action unreachable_image_action(const Policy& policy, Action rule_action);

// What a failed lookup's finding says: the registry (e.g. "ghcr.io"; empty
// when unknown), its failure and what images.onError made of it at
// `action` (from unreachable_image_action).
std::string unreachable_image_message(const Policy& policy, Action action, std::string_view registry,
                                      std::string_view reason);

// The verdict on a reference whose lookup failed in `registry` for
// `reason`: one kImageLookupRule violation at unreachable_image_action
// (none when images.onError is allow or the rule is off), config
// exemptions applied as for evaluate_image.
ObjectVerdict evaluate_unreachable_image(const Policy& policy, std::string_view reference,
                                         std::string_view registry, std::string_view reason,
                                         const EvalOptions& options);

}  // namespace podguard

// The glue between a policy's `images:` block and the registry client, for
// the commands that look images up (check, image, review, serve): the
// client's options from the config, and lookup results as the KnownImages
// the engine's rules read.
//
// Pure functions of their arguments, and a cache (JudgedImages); safe from
// any thread.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/facts/image_facts.h"
#include "engine/policy/evaluate.h"
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
KnownImages known_images(const std::vector<std::string_view>& references, const std::vector<ImageResult>& results);
// The same, taking the found facts from `results` instead of copying them.
KnownImages known_images(const std::vector<std::string_view>& references, std::vector<ImageResult>&& results);

// The image rules' findings for the images judged under the policy in
// force, by reference: a review of a workload whose images are known does
// not judge them again (judging an image's Env and history for secrets
// costs more than the whole lookup). Emptied when the policy changes;
// bounded; an entry counts only for the very facts it was made from (a tag
// whose digest moved is judged afresh).
//
// Thread-safe: one mutex, held for the hash lookups of a review's images
// (never while judging).
class JudgedImages {
 public:
  explicit JudgedImages(std::size_t max_entries = 4096) : max_entries_(max_entries) {}

  // A judgement for every found image of `images` (made now, or before),
  // into `out`; `keep` holds them for as long as `out` is used.
  void judgements(const std::shared_ptr<const Policy>& policy, const KnownImages& images,
                  std::vector<std::shared_ptr<const ImageJudgement>>& keep, ImageJudgements& out);

 private:
  struct Entry {
    std::weak_ptr<const ImageFacts> facts;
    std::shared_ptr<const ImageJudgement> judgement;
  };
  // With mutex_ held.
  std::shared_ptr<const ImageJudgement> find_locked(const std::shared_ptr<const Policy>& policy,
                                                    const std::string& reference,
                                                    const std::shared_ptr<const ImageFacts>& facts);
  void store(const std::shared_ptr<const Policy>& policy, const std::string& reference,
             const std::shared_ptr<const ImageFacts>& facts, std::shared_ptr<const ImageJudgement> judgement);

  const std::size_t max_entries_;
  std::mutex mutex_;
  std::shared_ptr<const Policy> policy_;  // held, so that a later policy never has its address
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace podguard::registry

#include "registry/policy_images.h"

#include "engine/facts/image_reference.h"

namespace podguard::registry {

RegistryOptions registry_options(const ImageSettings& s) {
  RegistryOptions o;
  o.timeout_seconds = s.timeout_seconds;
  o.platforms = s.platforms;
  o.credentials_file = s.credentials;
  o.ca_file = s.ca_file;
  o.insecure_registries = s.insecure_registries;
  for (const auto& [from, to] : s.mirrors) o.mirrors[from] = to;
  o.cache.tag_ttl_seconds = s.tag_ttl_seconds;
  o.cache.error_ttl_seconds = s.error_ttl_seconds;
  o.cache.max_entries = static_cast<std::size_t>(s.max_entries);
  return o;
}

bool same_client(const ImageSettings& a, const ImageSettings& b) {
  return a.timeout_seconds == b.timeout_seconds && a.platforms == b.platforms && a.credentials == b.credentials &&
         a.ca_file == b.ca_file && a.insecure_registries == b.insecure_registries && a.mirrors == b.mirrors &&
         a.tag_ttl_seconds == b.tag_ttl_seconds && a.error_ttl_seconds == b.error_ttl_seconds &&
         a.max_entries == b.max_entries;
}

KnownImages known_images(const std::vector<std::string_view>& references, const std::vector<ImageResult>& results) {
  std::vector<ImageResult> copies = results;
  return known_images(references, std::move(copies));
}

KnownImages known_images(const std::vector<std::string_view>& references, std::vector<ImageResult>&& results) {
  KnownImages known;
  known.reserve(references.size());
  for (std::size_t i = 0; i < references.size() && i < results.size(); ++i) {
    const std::string_view ref = references[i];
    ImageResult& r = results[i];
    ImageAnswer a;
    if (r.ok()) {
      a.state = ImageAnswer::State::kFound;
      a.facts = std::move(*r);
      // a.registry is for the other states' messages: facts->registry
      // says it for a found image.
    } else {
      a.state = r.status().is(StatusCode::kNotFound) ? ImageAnswer::State::kNotFound : ImageAnswer::State::kFailed;
      a.reason = r.status().message();
    }
    if (a.state != ImageAnswer::State::kFound) {
      const ImageParse parsed = parse_image_reference(ref);
      if (parsed.ref) a.registry = parsed.ref->registry;
    }
    known.add(std::string(ref), std::move(a));
  }
  return known;
}

void JudgedImages::judgements(const std::shared_ptr<const Policy>& policy, const KnownImages& images,
                              std::vector<std::shared_ptr<const ImageJudgement>>& keep, ImageJudgements& out) {
  const auto found = [](const ImageAnswer& a) { return a.state == ImageAnswer::State::kFound && a.facts != nullptr; };
  // What was judged before, under one lock; a null slot for the rest.
  const std::size_t first = keep.size();
  keep.reserve(first + images.size());
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [reference, answer] : images.entries()) {
      if (found(answer)) keep.push_back(find_locked(policy, reference, answer.facts));
    }
  }
  out.reserve(keep.size() - first);
  std::size_t slot = first;
  for (const auto& [reference, answer] : images.entries()) {
    if (!found(answer)) continue;
    std::shared_ptr<const ImageJudgement>& judgement = keep[slot++];
    if (!judgement) {  // judged now, outside the lock
      judgement = std::make_shared<const ImageJudgement>(judge_image(*policy, reference, *answer.facts));
      store(policy, reference, answer.facts, judgement);
    }
    out.add(reference, answer.facts.get(), judgement.get());
  }
}

std::shared_ptr<const ImageJudgement> JudgedImages::find_locked(const std::shared_ptr<const Policy>& policy,
                                                                const std::string& reference,
                                                                const std::shared_ptr<const ImageFacts>& facts) {
  if (policy_ != policy) return nullptr;
  const auto it = entries_.find(reference);
  if (it == entries_.end()) return nullptr;
  const std::weak_ptr<const ImageFacts>& made_from = it->second.facts;
  // The same control block: the same facts object, still alive.
  if (made_from.owner_before(facts) || facts.owner_before(made_from) || made_from.expired()) return nullptr;
  return it->second.judgement;
}

void JudgedImages::store(const std::shared_ptr<const Policy>& policy, const std::string& reference,
                         const std::shared_ptr<const ImageFacts>& facts,
                         std::shared_ptr<const ImageJudgement> judgement) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (policy_ != policy) {
    entries_.clear();
    policy_ = policy;
  }
  if (entries_.size() >= max_entries_ && entries_.find(reference) == entries_.end()) entries_.clear();
  entries_[reference] = Entry{facts, std::move(judgement)};
}

}  // namespace podguard::registry

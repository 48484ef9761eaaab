#include "registry/image_lookup.h"

#include <future>
#include <set>

#include "engine/facts/image_reference.h"
#include "registry/deadline_timer.h"
#include "registry/image_assembly.h"
#include "registry/lru_cache.h"
#include "registry/registry_client.h"
#include "registry/worker_pool.h"

namespace podguard::registry {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxMetricRegistries = 64;
const std::vector<double> kFetchBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// What a reference's answers are cached under.
struct CacheKeys {
  std::string key;      // one fetch per key: registry/repo@digest, or registry/repo:tag
  std::string tag_key;  // registry/repo:tag; empty when pinned by digest
};

// An image reference and the cache keys it maps to.
struct Target : CacheKeys {
  ImageReference ref;

  std::string image_key(std::string_view digest) const { return ref.name() + "@" + std::string(digest); }
};

Result<Target> target_of(std::string_view image) {
  ImageParse parsed = parse_image_reference(image);
  if (!parsed.ref) return Status::invalid_input("not a valid image reference: " + parsed.error);
  Target t;
  t.ref = std::move(*parsed.ref);
  if (!t.ref.digest.empty()) {
    t.key = t.image_key(t.ref.digest);
  } else {
    t.tag_key = t.ref.name() + ":" + (t.ref.tag.empty() ? "latest" : t.ref.tag);
    t.key = t.tag_key;
  }
  return t;
}

std::string metric_result(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kUnavailable:
    case StatusCode::kIoError:
      return "unavailable";
    case StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case StatusCode::kInvalidInput:
      return "invalid_input";
    case StatusCode::kTooLarge:
      return "too_large";
    case StatusCode::kInternal:
      return "internal";
  }
  return "internal";
}

// What one caller gets: the shared facts, or the failure prefixed with the
// image as that caller wrote it, with what the registry sent made printable.
// By value: a found image's facts are moved through, not copied (each copy
// is an atomic reference count on a line every worker touches).
ImageResult deliver(std::string_view image, ImageResult r) {
  if (!r.ok()) return Status(r.error()).make_printable().prefix(image);
  return r;
}

std::string format_budget(std::chrono::milliseconds budget) {
  const auto ms = budget.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

// One review's lookups: answered once, when all are in or at the deadline.
struct Batch {
  std::mutex mutex;
  std::vector<std::string> images;
  std::vector<std::string> registries;  // as messages name them
  std::vector<std::optional<ImageResult>> results;
  std::size_t remaining = 0;
  bool answered = false;
  LookupCallback done;

  void complete(std::size_t i, const ImageResult& r) {
    LookupCallback callback;
    {
      std::lock_guard lock(mutex);
      if (answered || results[i]) return;
      results[i] = deliver(images[i], r);
      if (--remaining > 0) return;
      answered = true;
      callback = std::move(done);
    }
    callback(collect());
  }

  // At the deadline: the images not answered yet are deadline-exceeded.
  // `count` gets their registries before the callback runs.
  void expire(std::chrono::milliseconds budget, const std::function<void(const std::vector<std::string>&)>& count) {
    LookupCallback callback;
    std::vector<std::string> late;
    {
      std::lock_guard lock(mutex);
      if (answered) return;
      answered = true;
      callback = std::move(done);
      for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i]) continue;
        late.push_back(registries[i]);
        results[i] = Status::deadline_exceeded(images[i] + ": registry " + registries[i] + " did not answer within " +
                                               format_budget(budget) + " (the lookup goes on and is cached)");
      }
    }
    count(late);
    callback(collect());
  }

  // Called once, after `answered` is set: nothing writes results then.
  std::vector<ImageResult> collect() {
    std::vector<ImageResult> out;
    out.reserve(results.size());
    for (auto& r : results) out.push_back(std::move(*r));
    return out;
  }
};

}  // namespace

struct ImageLookup::Impl : std::enable_shared_from_this<ImageLookup::Impl> {
  RegistryOptions options;
  std::vector<ImagePlatform> platforms;
  std::chrono::milliseconds budget{0};
  std::unique_ptr<RegistryClient> client;

  mutable std::mutex mutex;                                           // caches, flights and metrics
  LruCache<std::string, std::shared_ptr<const ImageFacts>> images;    // registry/repo@digest
  LruCache<std::string, std::shared_ptr<const ImageConfig>> configs;  // config digest
  LruCache<std::string, std::string> tags;                            // registry/repo:tag -> registry/repo@digest
  LruCache<std::string, Status> failures;                             // Target::key
  // cached() is asked for the same references review after review: their
  // keys by reference as written, so that a hit parses nothing.
  StringLruCache<CacheKeys> references;
  std::map<std::string, std::vector<std::function<void(const ImageResult&)>>> flights;  // key -> waiters
  LookupMetrics counters;  // cache_hits filled in by metrics() from:
  std::uint64_t image_hits = 0;
  std::uint64_t revalidated_hits = 0;
  std::uint64_t failure_hits = 0;
  std::set<std::string> metric_registries;

  // Last: destroyed first, so no thread runs while the rest goes.
  std::unique_ptr<DeadlineTimer> timer;
  std::unique_ptr<WorkerPool> pool;

  explicit Impl(const RegistryOptions& o)
      : options(o),
        images(o.cache.max_entries),
        configs(o.cache.max_entries),
        tags(o.cache.max_entries),
        failures(o.cache.max_entries),
        references(o.cache.max_entries) {}

  // --- caches (mutex held) -------------------------------------------------

  std::optional<ImageResult> from_cache(const CacheKeys& k, Clock::time_point now) {
    const std::string* image = k.tag_key.empty() ? &k.key : tags.get(k.tag_key, now);
    if (image != nullptr) {
      if (const auto* facts = images.get(*image, now)) {
        ++image_hits;
        return ImageResult(*facts);
      }
    }
    if (const Status* failure = failures.get(k.key, now)) {
      ++failure_hits;
      return ImageResult(*failure);
    }
    return std::nullopt;
  }

  std::string metric_registry(const std::string& registry) {
    if (metric_registries.count(registry) != 0) return registry;
    if (metric_registries.size() >= kMaxMetricRegistries) return "other";
    metric_registries.insert(registry);
    return registry;
  }

  void observe_fetch(const std::string& registry, const Status& s, double seconds) {
    const std::string r = metric_registry(registry);
    ++counters.fetches[{r, metric_result(s)}];
    auto& h = counters.fetch_seconds[r];
    if (h.bounds.empty()) {
      h.bounds = kFetchBuckets;
      h.buckets.assign(kFetchBuckets.size() + 1, 0);
    }
    std::size_t i = 0;
    while (i < h.bounds.size() && seconds > h.bounds[i]) ++i;
    ++h.buckets[i];
    ++h.count;
    h.sum += seconds;
  }

  // --- fetching (worker threads) -------------------------------------------

  Result<std::shared_ptr<const ImageConfig>> config(const Target& t, const std::string& digest, Deadline deadline) {
    {
      std::lock_guard lock(mutex);
      if (const auto* c = configs.get(digest, Clock::now())) return *c;
    }
    auto fetched = client->fetch_config(t.ref, digest, deadline);
    if (!fetched.ok()) return fetched.status();
    auto shared = std::make_shared<const ImageConfig>(std::move(*fetched));
    std::lock_guard lock(mutex);
    configs.put(digest, shared);
    return shared;
  }

  // A tag's image is cached under an older digest: one HEAD says whether
  // the tag still points there. The facts when it does, else nullptr.
  std::shared_ptr<const ImageFacts> revalidate(const Target& t, Deadline deadline) {
    {
      std::lock_guard lock(mutex);
      const std::string* key = tags.get_stale(t.tag_key);
      if (key == nullptr || images.get_stale(*key) == nullptr) return nullptr;
    }
    auto now = client->manifest_digest(t.ref, t.ref.tag.empty() ? "latest" : t.ref.tag, deadline);
    if (!now.ok() || now->empty()) return nullptr;
    std::lock_guard lock(mutex);
    const std::string key = t.image_key(*now);
    const auto* facts = images.get(key, Clock::now());
    if (facts == nullptr) return nullptr;
    tags.put(t.tag_key, key, Clock::now() + std::chrono::seconds(options.cache.tag_ttl_seconds));
    ++revalidated_hits;
    return *facts;
  }

  Status not_an_image(const Target& t, const ImageManifest& m, const std::string& what) const {
    return Status::invalid_input("registry " + client->describe(t.ref.registry) + " serves " + what +
                                 ", which is not a container image (its config is \"" +
                                 m.config.media_type.substr(0, 100) + "\")");
  }

  ImageResult fetch(const Target& t, Deadline deadline) {
    if (!t.tag_key.empty()) {
      if (auto facts = revalidate(t, deadline)) return ImageResult(std::move(facts));
    }
    const std::string tag_or_digest = t.ref.digest.empty() ? (t.ref.tag.empty() ? "latest" : t.ref.tag) : t.ref.digest;
    auto top = client->fetch_manifest(t.ref, tag_or_digest, deadline);
    if (!top.ok()) return top.status();
    auto shared = std::make_shared<ImageFacts>();
    ImageFacts& facts = *shared;
    facts.registry = t.ref.registry;
    facts.name = t.ref.name();
    facts.digest = top->digest;
    ImageParts parts;
    parts.manifest = [&](const ImageDescriptor& d) -> Result<ImageManifest> {
      auto m = client->fetch_manifest(t.ref, d.digest, deadline);
      if (!m.ok()) return m.status();
      return std::move(m->manifest);
    };
    parts.config = [&](const std::string& digest) { return config(t, digest, deadline); };
    parts.not_an_image = [&](const ImageManifest& m, const std::string& what) { return not_an_image(t, m, what); };
    if (Status s = assemble_image(top->manifest, platforms, parts, facts); !s.ok()) return s;
    return ImageResult(std::shared_ptr<const ImageFacts>(std::move(shared)));
  }

  // Runs on a worker: fetches, fills the caches, answers every waiter.
  void run_flight(const Target& t, bool run) {
    const auto start = Clock::now();
    ImageResult r = run ? fetch(t, start + budget) : ImageResult(Status::unavailable("podguard is shutting down"));
    finish(t, r, run, std::chrono::duration<double>(Clock::now() - start).count());
  }

  void finish(const Target& t, const ImageResult& r, bool count, double seconds) {
    std::vector<std::function<void(const ImageResult&)>> waiters;
    {
      std::lock_guard lock(mutex);
      const auto now = Clock::now();
      if (r.ok()) {
        const std::shared_ptr<const ImageFacts>& facts = r.value();
        images.put(t.image_key(facts->digest), facts);
        if (!t.tag_key.empty() && options.cache.tag_ttl_seconds > 0) {
          tags.put(t.tag_key, t.image_key(facts->digest), now + std::chrono::seconds(options.cache.tag_ttl_seconds));
        }
        failures.erase(t.key);
      } else if (count && options.cache.error_ttl_seconds > 0) {
        failures.put(t.key, r.error(), now + std::chrono::seconds(options.cache.error_ttl_seconds));
      }
      if (count) observe_fetch(t.ref.registry, r.status(), seconds);
      const auto it = flights.find(t.key);
      if (it != flights.end()) {
        waiters = std::move(it->second);
        flights.erase(it);
      }
    }
    for (auto& w : waiters) w(r);
  }

  // Joins the fetch of `t` under way, or starts one.
  void join(const Target& t, std::function<void(const ImageResult&)> waiter) {
    {
      std::lock_guard lock(mutex);
      const auto it = flights.find(t.key);
      if (it != flights.end()) {
        ++counters.shared_fetches;
        it->second.push_back(std::move(waiter));
        return;
      }
      flights[t.key].push_back(std::move(waiter));
    }
    auto self = shared_from_this();
    if (!pool->post([self, t](bool run) { self->run_flight(t, run); })) {
      {
        std::lock_guard lock(mutex);
        ++counters.rejected;
      }
      finish(t,
             Status::unavailable("registry " + client->describe(t.ref.registry) + " was not asked: " +
                                 std::to_string(options.max_queued) + " lookups are already waiting"),
             false, 0);
    }
  }
};

ImageLookup::ImageLookup(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ImageLookup::~ImageLookup() {
  impl_->client->shut_down();
  impl_->pool.reset();   // waits for fetches under way; queued ones fail
  impl_->timer.reset();  // every batch has been answered by now
}

Result<std::unique_ptr<ImageLookup>> ImageLookup::create(const RegistryOptions& options) {
  auto impl = std::make_shared<Impl>(options);
  auto platforms = parse_platforms(options.platforms);
  if (!platforms.ok()) return platforms.status();
  impl->platforms = std::move(*platforms);
  if (options.workers < 1 || options.workers > 256) {
    return Status::invalid_input("must be between 1 and 256").with_key("workers");
  }
  if (options.cache.tag_ttl_seconds < 0 || options.cache.error_ttl_seconds < 0) {
    return Status::invalid_input("TTLs must be 0 or more seconds").with_key("cache");
  }
  auto client = RegistryClient::create(options);
  if (!client.ok()) return client.status();
  impl->client = std::move(*client);
  impl->budget = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000));
  impl->timer = std::make_unique<DeadlineTimer>();
  impl->pool = std::make_unique<WorkerPool>(options.workers, options.max_queued);
  return std::unique_ptr<ImageLookup>(new ImageLookup(std::move(impl)));
}

void ImageLookup::lookup_async(std::vector<std::string> images, LookupCallback done,
                               std::optional<std::chrono::milliseconds> budget) {
  const auto wait = budget.value_or(impl_->budget);
  auto batch = std::make_shared<Batch>();
  batch->results.resize(images.size());
  batch->registries.resize(images.size());
  std::vector<std::pair<std::size_t, Target>> missing;
  {
    std::lock_guard lock(impl_->mutex);
    const auto now = Clock::now();
    for (std::size_t i = 0; i < images.size(); ++i) {
      auto t = target_of(images[i]);
      if (!t.ok()) {
        batch->results[i] = Status(t.error()).make_printable().prefix(images[i]);
        continue;
      }
      if (auto hit = impl_->from_cache(*t, now)) {
        batch->results[i] = deliver(images[i], std::move(*hit));
        continue;
      }
      missing.emplace_back(i, std::move(*t));
    }
  }
  batch->images = std::move(images);
  if (missing.empty()) {
    done(batch->collect());
    return;
  }
  batch->remaining = missing.size();
  batch->done = std::move(done);
  for (auto& [i, t] : missing) batch->registries[i] = impl_->client->describe(t.ref.registry);
  // The timer holds the batch weakly: a batch answered early is freed early.
  std::weak_ptr<Batch> weak = batch;
  std::weak_ptr<Impl> owner = impl_;
  impl_->timer->schedule(Clock::now() + wait, [weak, owner, wait] {
    const auto b = weak.lock();
    if (!b) return;
    b->expire(wait, [&](const std::vector<std::string>& late) {
      const auto impl = owner.lock();
      if (!impl) return;
      std::lock_guard lock(impl->mutex);
      for (const std::string& r : late) ++impl->counters.budget_exceeded[impl->metric_registry(r)];
    });
  });
  for (auto& [i, t] : missing) {
    impl_->join(t, [batch, i = i](const ImageResult& r) { batch->complete(i, r); });
  }
}

std::vector<ImageResult> ImageLookup::lookup_all(std::vector<std::string> images,
                                                 std::optional<std::chrono::milliseconds> budget) {
  // Shared: the callback may still be returning from set_value when get() does.
  auto answer = std::make_shared<std::promise<std::vector<ImageResult>>>();
  auto future = answer->get_future();
  lookup_async(
      std::move(images), [answer](std::vector<ImageResult> r) { answer->set_value(std::move(r)); }, budget);
  return future.get();
}

ImageResult ImageLookup::lookup(std::string_view image) { return std::move(lookup_all({std::string(image)}).front()); }

std::optional<ImageResult> ImageLookup::cached(std::string_view image) {
  {
    std::lock_guard lock(impl_->mutex);
    const auto now = Clock::now();
    if (const CacheKeys* keys = impl_->references.get(image, now)) {
      auto hit = impl_->from_cache(*keys, now);
      if (!hit) return std::nullopt;
      return deliver(image, std::move(*hit));
    }
  }
  auto t = target_of(image);  // parsed outside the lock
  if (!t.ok()) return ImageResult(Status(t.error()).make_printable().prefix(image));
  std::lock_guard lock(impl_->mutex);
  impl_->references.put(std::string(image), static_cast<const CacheKeys&>(*t));
  auto hit = impl_->from_cache(*t, Clock::now());
  if (!hit) return std::nullopt;
  return deliver(image, std::move(*hit));
}

LookupMetrics ImageLookup::metrics() const {
  std::lock_guard lock(impl_->mutex);
  LookupMetrics m = impl_->counters;
  m.cache_hits = {
      {"image", impl_->image_hits}, {"revalidated", impl_->revalidated_hits}, {"failure", impl_->failure_hits}};
  return m;
}

const RegistryOptions& ImageLookup::options() const { return impl_->options; }

}  // namespace podguard::registry

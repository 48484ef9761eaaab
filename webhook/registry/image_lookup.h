// Image facts for admission and CI: looks up image references in their
// registries (RegistryClient) and keeps what it learnt.
//
//   auto lookup = ImageLookup::create(options);          // once, at startup
//   lookup.value()->lookup_async(images_of_the_review, [](std::vector<ImageResult> results) {
//     // one Result<ImageFacts> per image, in order; called once
//   });
//
// - Caches: image facts by digest and configs by digest (immutable, least
//   recently used dropped past cache.max_entries), tags by cache.tag_ttl;
//   failures for cache.error_ttl (the same Status is answered meanwhile).
//   A tag whose TTL ran out while its image is still cached is checked
//   with a HEAD request (which Docker Hub does not count against its pull
//   limit) instead of fetched again. Each reference asked about keeps the
//   cache keys it parsed to (at most cache.max_entries references, a few
//   hundred bytes each), so cached() does not parse it again.
// - Concurrent lookups of one image share one fetch.
// - Fetches run on a fixed pool of worker threads owned by the lookup;
//   callers never touch the network. A batch answers within its budget
//   (options.timeout_seconds): images not done by then come back
//   deadline-exceeded, naming their registry, while their fetches go on
//   (each bounded by the same timeout) and fill the caches for next time.
// - Results are in the order of the images asked for. Facts are shared
//   (a cache hit costs a pointer copy); failures are prefixed with the
//   image as the caller wrote it; see
//   registry_client.h for what each code means. onError (allow, warn,
//   deny) is the caller's to apply.
//
// Thread-safe: every method may be called from any thread at once.
// Destroying the lookup waits for the fetches under way (each bounded by
// the timeout, Retry-After waits cut short) and answers pending batches.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "engine/facts/image_facts.h"
#include "registry/registry_options.h"

namespace podguard::registry {

// The facts are shared with the cache and other callers: immutable.
using ImageResult = Result<std::shared_ptr<const ImageFacts>>;
using LookupCallback = std::function<void(std::vector<ImageResult> results)>;

// Counters since the lookup was created, for the server's /metrics.
struct LookupMetrics {
  struct Histogram {
    std::vector<double> bounds;          // upper bounds, seconds
    std::vector<std::uint64_t> buckets;  // per bound (not cumulative), plus one past the last bound
    std::uint64_t count = 0;
    double sum = 0;  // seconds
  };
  // Fetches from registries (what the caches could not answer), by
  // {registry, result}; result is ok, not_found, permission_denied,
  // unavailable, deadline_exceeded, invalid_input, too_large or internal.
  std::map<std::pair<std::string, std::string>, std::uint64_t> fetches;
  // How long those fetches took, by registry.
  std::map<std::string, Histogram> fetch_seconds;
  // Lookups answered without a fetch, by what answered: "image" (by
  // digest, or a tag within its TTL), "revalidated" (a HEAD request
  // confirmed an expired tag), "failure" (a failure within errorTtl).
  std::map<std::string, std::uint64_t> cache_hits;
  // Lookups that joined a fetch of the same image already under way.
  std::uint64_t shared_fetches = 0;
  // Images a batch answered deadline-exceeded for, by registry.
  std::map<std::string, std::uint64_t> budget_exceeded;
  // Fetches refused at once because max_queued were already waiting.
  std::uint64_t rejected = 0;
  // Registries beyond the first 64 are counted under "other".
};

class ImageLookup {
 public:
  // Checks the options (platforms, CA file, credentials...) and starts the
  // worker threads.
  static Result<std::unique_ptr<ImageLookup>> create(const RegistryOptions& options);
  ~ImageLookup();
  ImageLookup(const ImageLookup&) = delete;
  ImageLookup& operator=(const ImageLookup&) = delete;

  // Looks up every image (in parallel, duplicates once) and calls `done`
  // exactly once with one result per image, in order: when all are
  // answered, or when `budget` (default options.timeout_seconds) runs out.
  // `done` runs before lookup_async returns, on the calling thread, when no
  // image needs a fetch (the caches answer, or the queue is full); otherwise
  // on a worker or timer thread, where it must be quick (e.g. post the
  // results to an event loop).
  void lookup_async(std::vector<std::string> images, LookupCallback done,
                    std::optional<std::chrono::milliseconds> budget = std::nullopt);

  // The same, waiting for the answer (at most the budget): for the CLI.
  std::vector<ImageResult> lookup_all(std::vector<std::string> images,
                                      std::optional<std::chrono::milliseconds> budget = std::nullopt);
  ImageResult lookup(std::string_view image);

  // What the caches say about `image` without asking a registry: its facts,
  // its cached failure, or nullopt. Never blocks on the network.
  std::optional<ImageResult> cached(std::string_view image);

  [[nodiscard]] LookupMetrics metrics() const;
  [[nodiscard]] const RegistryOptions& options() const;

 private:
  struct Impl;
  explicit ImageLookup(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace podguard::registry

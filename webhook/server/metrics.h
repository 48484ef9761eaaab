// Prometheus metrics of the webhook, rendered in the text exposition format
// on the plain-HTTP metrics address: admission counts and latency, the HTTP
// servers' connection counters, and the standard process_* metrics. Safe to
// update from any thread.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/https_server.h"

#include "registry/image_lookup.h"

namespace podguard::server {

class Metrics {
 public:
  Metrics();

  // One admission request: kind (request.kind.kind), operation, decision
  // (allowed, denied, untouched, error) and how long podguard took.
  void observe_request(const std::string& kind, const std::string& operation, const std::string& decision,
                       double seconds);
  void count_violation(const std::string& rule, const std::string& action, bool ratcheted, std::uint64_t n = 1);
  void count_exemption(const std::string& rule, const std::string& source);
  void count_config_reload(bool ok);
  void count_certificate_reload(bool ok);
  void set_certificate_expiry(double unix_seconds);
  void set_config_loaded_at(double unix_seconds);

  // Where the image lookups' counters come from (registry/image_lookup.h),
  // read at each render; the source answers nullopt while lookups are off.
  // Register before serving.
  using LookupMetricsSource = std::function<std::optional<registry::LookupMetrics>()>;
  void set_image_lookup_source(LookupMetricsSource source);
  // Reviews that waited for image lookups, by how the wait ended: "cached"
  // (every image known already, no wait), "fetched" (every lookup
  // answered), "failed" (some lookup failed or ran out of budget, so
  // images.onError applied).
  void count_image_review(const std::string& outcome);

  // Renders a server's connection counters under listener="name"; `stats`
  // must outlive every render() call. Register before serving.
  void add_listener(std::string name, const HttpStats* stats);

  std::string render() const;

  // Upper bounds of the latency histogram buckets, in seconds.
  static constexpr std::array<double, 14> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                       0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

 private:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };

  // Caps distinct label sets per metric so odd input cannot grow memory
  // without bound; the rest are counted under "other".
  static constexpr std::size_t kMaxSeries = 512;
  template <typename Map>
  static typename Map::mapped_type& series(Map& map, Labels labels);

  // Request, violation and exemption counts are kept in shards, each thread
  // using one, so that request threads do not queue on one lock; render()
  // adds the shards up.
  struct alignas(64) Shard {
    std::mutex mutex;
    std::map<Labels, std::uint64_t> requests;
    std::map<Labels, Histogram> durations;
    std::map<Labels, std::uint64_t> violations;
    std::map<Labels, std::uint64_t> exemptions;
  };
  static constexpr std::size_t kShards = 8;
  Shard& shard();

  mutable std::array<Shard, kShards> shards_;
  mutable std::mutex mutex_;  // the rest
  std::map<Labels, std::uint64_t> config_reloads_;
  std::map<Labels, std::uint64_t> certificate_reloads_;
  double certificate_expiry_ = 0;
  double config_loaded_at_ = 0;
  std::vector<std::pair<std::string, const HttpStats*>> listeners_;
  LookupMetricsSource lookup_source_;
  std::map<Labels, std::uint64_t> image_reviews_;
};

// Adds `from` to `into` (the counters of a lookup that a config reload
// replaced are kept, so that the exported counters never go back).
void merge(registry::LookupMetrics& into, const registry::LookupMetrics& from);

}  // namespace podguard::server

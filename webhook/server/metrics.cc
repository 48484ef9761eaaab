#include "server/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>

#ifndef PODGUARD_VERSION
#define PODGUARD_VERSION "unknown"
#endif

namespace podguard::server {
namespace {

std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string label_text(const std::vector<std::pair<std::string, std::string>>& labels, const std::string& extra = {}) {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=\"" + escape(v) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

void header(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

template <typename Map>
void counters(std::ostringstream& out, const char* name, const char* help, const Map& map) {
  header(out, name, "counter", help);
  for (const auto& [labels, value] : map) out << name << label_text(labels) << ' ' << value << '\n';
}

// The standard process metrics (as the Prometheus client libraries export
// them), read from /proc.
void process_metrics(std::ostringstream& out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const auto close = stat.rfind(')');
  std::istringstream fields(close == std::string::npos ? std::string() : stat.substr(close + 2));
  std::vector<std::string> f;
  for (std::string field; fields >> field;) f.push_back(field);
  // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  const auto field = [&f](std::size_t n) { return n - 3 < f.size() ? std::stod(f[n - 3]) : 0.0; };
  double boot_time = 0;
  std::ifstream proc_stat("/proc/stat");
  for (std::string key; proc_stat >> key;) {
    if (key == "btime") {
      proc_stat >> boot_time;
      break;
    }
  }
  std::size_t fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (const dirent* entry = readdir(dir)) fds += entry->d_name[0] != '.' ? 1 : 0;
    closedir(dir);
    fds -= fds > 0 ? 1 : 0;  // the directory's own descriptor
  }
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  header(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
  out << "process_cpu_seconds_total " << number((field(14) + field(15)) / ticks) << '\n';
  header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  out << "process_resident_memory_bytes " << number(field(24) * page) << '\n';
  header(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
  out << "process_virtual_memory_bytes " << number(field(23)) << '\n';
  header(out, "process_open_fds", "gauge", "Number of open file descriptors.");
  out << "process_open_fds " << fds << '\n';
  header(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
  out << "process_max_fds " << number(static_cast<double>(files.rlim_cur)) << '\n';
  header(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
  out << "process_start_time_seconds " << number(boot_time + field(22) / ticks) << '\n';
}

}  // namespace

Metrics::Metrics() {
  // Reload outcomes are exported at zero from the start, so alerts on their
  // rate work before the first reload.
  for (const char* result : {"success", "failure"}) {
    config_reloads_[{{"result", result}}] = 0;
    certificate_reloads_[{{"result", result}}] = 0;
  }
}

template <typename Map>
typename Map::mapped_type& Metrics::series(Map& map, Labels labels) {
  auto it = map.find(labels);
  if (it != map.end()) return it->second;
  if (map.size() >= kMaxSeries) {
    for (auto& [k, v] : labels) v = "other";
  }
  return map[labels];
}

Metrics::Shard& Metrics::shard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t slot = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shards_[slot];
}

void Metrics::observe_request(const std::string& kind, const std::string& operation, const std::string& decision,
                              double seconds) {
  Labels labels = {{"kind", kind}, {"operation", operation}, {"decision", decision}};
  Shard& s = shard();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++series(s.requests, labels);
  Histogram& h = series(s.durations, std::move(labels));
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

void Metrics::count_violation(const std::string& rule, const std::string& action, bool ratcheted, std::uint64_t n) {
  Shard& s = shard();
  std::lock_guard<std::mutex> lock(s.mutex);
  series(s.violations, {{"rule", rule}, {"action", action}, {"ratcheted", ratcheted ? "true" : "false"}}) += n;
}

void Metrics::count_exemption(const std::string& rule, const std::string& source) {
  Shard& s = shard();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++series(s.exemptions, {{"rule", rule}, {"source", source}});
}

void Metrics::count_config_reload(bool ok) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++config_reloads_[{{"result", ok ? "success" : "failure"}}];
}

void Metrics::count_certificate_reload(bool ok) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++certificate_reloads_[{{"result", ok ? "success" : "failure"}}];
}

void Metrics::set_certificate_expiry(double unix_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  certificate_expiry_ = unix_seconds;
}

void Metrics::set_config_loaded_at(double unix_seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  config_loaded_at_ = unix_seconds;
}

void Metrics::set_image_lookup_source(LookupMetricsSource source) {
  std::lock_guard<std::mutex> lock(mutex_);
  lookup_source_ = std::move(source);
}

void Metrics::count_image_review(const std::string& outcome) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++series(image_reviews_, {{"outcome", outcome}});
}

void merge(registry::LookupMetrics& into, const registry::LookupMetrics& from) {
  for (const auto& [key, n] : from.fetches) into.fetches[key] += n;
  for (const auto& [registry, h] : from.fetch_seconds) {
    registry::LookupMetrics::Histogram& total = into.fetch_seconds[registry];
    if (total.bounds.empty()) {
      total = h;
      continue;
    }
    if (total.bounds != h.bounds) continue;  // never: one build, one set of bounds
    for (std::size_t i = 0; i < total.buckets.size() && i < h.buckets.size(); ++i) total.buckets[i] += h.buckets[i];
    total.count += h.count;
    total.sum += h.sum;
  }
  for (const auto& [source, n] : from.cache_hits) into.cache_hits[source] += n;
  into.shared_fetches += from.shared_fetches;
  for (const auto& [registry, n] : from.budget_exceeded) into.budget_exceeded[registry] += n;
  into.rejected += from.rejected;
}

void Metrics::add_listener(std::string name, const HttpStats* stats) {
  std::lock_guard<std::mutex> lock(mutex_);
  listeners_.emplace_back(std::move(name), stats);
}

namespace {

void listener_metrics(std::ostringstream& out, const std::vector<std::pair<std::string, const HttpStats*>>& listeners) {
  const auto each = [&](const char* name, const char* type, const char* help, auto value) {
    header(out, name, type, help);
    for (const auto& [listener, stats] : listeners) {
      out << name << "{listener=\"" << listener << "\"} " << value(*stats) << '\n';
    }
  };
  each("podguard_http_connections_open", "gauge", "Connections open now.",
       [](const HttpStats& s) { return s.open.load(); });
  each("podguard_http_connections_accepted_total", "counter", "Connections accepted.",
       [](const HttpStats& s) { return s.accepted.load(); });
  each("podguard_http_connections_refused_total", "counter",
       "Connections closed as they were accepted: at the connection limit with every connection being answered.",
       [](const HttpStats& s) { return s.refused.load(); });
  each("podguard_http_connections_evicted_total", "counter",
       "Connections closed at the connection limit to make room for a new one: the one idle or stalled the longest.",
       [](const HttpStats& s) { return s.evicted.load(); });
  each("podguard_http_tls_handshake_failures_total", "counter", "TLS handshakes that failed.",
       [](const HttpStats& s) { return s.tls_failed.load(); });
  each("podguard_http_requests_offloaded_total", "counter",
       "Requests with large bodies handled off the event loop.", [](const HttpStats& s) { return s.offloaded.load(); });
  each("podguard_http_requests_deferred_total", "counter",
       "Requests answered later, without holding the event loop (admission reviews waiting on image lookups).",
       [](const HttpStats& s) { return s.deferred.load(); });
  header(out, "podguard_http_timeouts_total", "counter",
         "Connections cut by a timeout, by phase: handshake, header (the header deadline or a stall), body (the "
         "minimum body rate or a stall), write (a client not reading its answer).");
  for (const auto& [listener, stats] : listeners) {
    for (std::size_t p = 0; p < stats->timeouts.size(); ++p) {
      out << "podguard_http_timeouts_total{listener=\"" << listener << "\",phase=\""
          << to_string(static_cast<TimeoutPhase>(p)) << "\"} " << stats->timeouts[p].load() << '\n';
    }
  }
  header(out, "podguard_http_client_errors_total", "counter", "4xx answers, by status and reason.");
  for (const auto& [listener, stats] : listeners) {
    for (const auto& [key, n] : stats->errors()) {
      out << "podguard_http_client_errors_total{listener=\"" << listener << "\",status=\"" << key.first
          << "\",reason=\"" << escape(key.second) << "\"} " << n << '\n';
    }
  }
}

void lookup_metrics(std::ostringstream& out, const registry::LookupMetrics& m) {
  header(out, "podguard_image_lookups_total", "counter",
         "Image lookups that went to a registry (what the caches could not answer), by registry and result: ok, "
         "not_found, permission_denied, unavailable, deadline_exceeded, invalid_input, too_large, internal.");
  for (const auto& [key, n] : m.fetches) {
    out << "podguard_image_lookups_total{registry=\"" << escape(key.first) << "\",result=\"" << escape(key.second)
        << "\"} " << n << '\n';
  }
  header(out, "podguard_image_lookup_duration_seconds", "histogram",
         "How long image lookups that went to a registry took, by registry.");
  for (const auto& [registry, h] : m.fetch_seconds) {
    const std::string reg = "registry=\"" + escape(registry) + "\"";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.bounds.size() && i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      out << "podguard_image_lookup_duration_seconds_bucket{" << reg << ",le=\"" << number(h.bounds[i]) << "\"} "
          << cumulative << '\n';
    }
    out << "podguard_image_lookup_duration_seconds_bucket{" << reg << ",le=\"+Inf\"} " << h.count << '\n';
    out << "podguard_image_lookup_duration_seconds_sum{" << reg << "} " << number(h.sum) << '\n';
    out << "podguard_image_lookup_duration_seconds_count{" << reg << "} " << h.count << '\n';
  }
  header(out, "podguard_image_lookup_cache_hits_total", "counter",
         "Image lookups answered without a fetch, by what answered: image (by digest, or a tag within its TTL), "
         "revalidated (a HEAD request confirmed an expired tag), failure (a failure within errorTtlSeconds).");
  for (const char* source : {"image", "revalidated", "failure"}) {
    const auto it = m.cache_hits.find(source);
    out << "podguard_image_lookup_cache_hits_total{source=\"" << source << "\"} "
        << (it == m.cache_hits.end() ? 0 : it->second) << '\n';
  }
  header(out, "podguard_image_lookup_shared_total", "counter",
         "Image lookups that joined a fetch of the same image already under way.");
  out << "podguard_image_lookup_shared_total " << m.shared_fetches << '\n';
  header(out, "podguard_image_lookup_budget_exceeded_total", "counter",
         "Images a review's lookups gave up on when images.timeoutSeconds ran out, by registry (images.onError "
         "applied).");
  for (const auto& [registry, n] : m.budget_exceeded) {
    out << "podguard_image_lookup_budget_exceeded_total{registry=\"" << escape(registry) << "\"} " << n << '\n';
  }
  header(out, "podguard_image_lookup_rejected_total", "counter",
         "Image lookups refused at once because too many fetches were already waiting (images.onError applied).");
  out << "podguard_image_lookup_rejected_total " << m.rejected << '\n';
}

}  // namespace

std::string Metrics::render() const {
  std::map<Labels, std::uint64_t> all_requests;
  std::map<Labels, Histogram> all_durations;
  std::map<Labels, std::uint64_t> all_violations;
  std::map<Labels, std::uint64_t> all_exemptions;
  for (Shard& s : shards_) {
    std::lock_guard<std::mutex> lock(s.mutex);
    for (const auto& [labels, n] : s.requests) series(all_requests, labels) += n;
    for (const auto& [labels, h] : s.durations) {
      Histogram& total = series(all_durations, labels);
      for (std::size_t i = 0; i < kBuckets.size(); ++i) total.buckets[i] += h.buckets[i];
      total.count += h.count;
      total.sum += h.sum;
    }
    for (const auto& [labels, n] : s.violations) series(all_violations, labels) += n;
    for (const auto& [labels, n] : s.exemptions) series(all_exemptions, labels) += n;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  header(out, "podguard_build_info", "gauge", "podguard version.");
  out << "podguard_build_info{version=\"" << PODGUARD_VERSION << "\"} 1\n";
  counters(out, "podguard_admission_requests_total",
           "Admission reviews answered, by request kind, operation and decision (allowed, denied, untouched, error).",
           all_requests);
  header(out, "podguard_admission_duration_seconds", "histogram",
         "Time from a complete request body to the response, by kind, operation and decision.");
  for (const auto& [labels, h] : all_durations) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out << "podguard_admission_duration_seconds_bucket" << label_text(labels, "le=\"" + number(kBuckets[i]) + "\"")
          << ' ' << h.buckets[i] << '\n';
    }
    out << "podguard_admission_duration_seconds_bucket" << label_text(labels, "le=\"+Inf\"") << ' ' << h.count << '\n';
    out << "podguard_admission_duration_seconds_sum" << label_text(labels) << ' ' << number(h.sum) << '\n';
    out << "podguard_admission_duration_seconds_count" << label_text(labels) << ' ' << h.count << '\n';
  }
  counters(out, "podguard_violations_total",
           "Violations found in admitted or denied objects, by rule and action; ratcheted ones were already present "
           "before an update and did not deny.",
           all_violations);
  counters(out, "podguard_exemptions_total", "Findings suppressed by an exemption, by rule and source.", all_exemptions);
  counters(out, "podguard_config_reloads_total", "Policy config reloads, by result.", config_reloads_);
  counters(out, "podguard_certificate_reloads_total", "Serving certificate reloads, by result.", certificate_reloads_);
  header(out, "podguard_certificate_expiry_timestamp_seconds", "gauge",
         "When the serving certificate in use expires, as a Unix timestamp.");
  out << "podguard_certificate_expiry_timestamp_seconds " << number(certificate_expiry_) << '\n';
  header(out, "podguard_config_last_reload_success_timestamp_seconds", "gauge",
         "When the policy config in force was loaded, as a Unix timestamp.");
  out << "podguard_config_last_reload_success_timestamp_seconds " << number(config_loaded_at_) << '\n';
  if (lookup_source_) {
    if (std::optional<registry::LookupMetrics> m = lookup_source_()) lookup_metrics(out, *m);
  }
  counters(out, "podguard_image_reviews_total",
           "Admission reviews that needed image lookups, by outcome: cached (every image known already), fetched "
           "(every lookup answered), failed (a lookup failed or ran out of budget: images.onError applied).",
           image_reviews_);
  listener_metrics(out, listeners_);
  process_metrics(out);
  return out.str();
}

}  // namespace podguard::server

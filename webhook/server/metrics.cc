#include "server/metrics.h"

#include <atomic>
#include <cstdio>
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
  return out.str();
}

}  // namespace podguard::server

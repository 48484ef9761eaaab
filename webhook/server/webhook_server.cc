#include "server/webhook_server.h"

#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "engine/admission/admission.h"
#include "engine/policy/config.h"
#include "engine/reading/json_access.h"
#include "engine/reading/json_writer.h"
#include "engine/rules/builtin.h"
#include "registry/image_lookup.h"
#include "registry/policy_images.h"
#include "server/https_server.h"
#include "server/json_log.h"
#include "server/metrics.h"
#include "server/shared_slot.h"
#include "server/tls_identity.h"

namespace podguard::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kListenBacklog = 1024;
// The metrics port: scrapes and probes, a few at a time; a flood of idle or
// trickling clients there is handled as on the webhook port.
constexpr std::size_t kMetricsMaxConnections = 256;
constexpr std::size_t kMetricsMaxBodyBytes = 64u << 10;

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_time(std::time_t t) {
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

struct Address {
  std::string host;
  int port = 0;
};

// "host:port", with brackets around an IPv6 host.
std::string host_port(const std::string& host, int port) {
  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return shown + ":" + std::to_string(port);
}

// "host:port", "[::1]:8443" or ":8443" (all interfaces).
Result<Address> parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return Status::invalid_input("\"" + text + "\" is not host:port");
  Address a;
  a.host = text.substr(0, colon);
  if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']') a.host = a.host.substr(1, a.host.size() - 2);
  if (a.host.empty()) a.host = "0.0.0.0";
  const std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    return Status::invalid_input("\"" + text + "\" has no valid port (0-65535)");
  }
  a.port = std::stoi(port);
  return a;
}

// What tells a watched file changed: Kubernetes updates mounted Secrets and
// ConfigMaps by swapping a symlink, which changes the inode stat() sees.
struct FileStamp {
  bool exists = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  long mtime_sec = 0;
  long mtime_nsec = 0;

  bool operator==(const FileStamp&) const = default;
};

FileStamp stamp(const std::string& path) {
  FileStamp s;
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return s;
  s.exists = true;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime_sec = st.st_mtim.tv_sec;
  s.mtime_nsec = st.st_mtim.tv_nsec;
  return s;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The time the API server gives the webhook, from the `timeout` parameter
// it adds to the URL (`/validate?timeout=10s`, a Go duration: "10s",
// "1.5s", "500ms", "1m"); nullopt when absent or unreadable.
std::optional<double> api_server_timeout(std::string_view query) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.substr(0, 8) != "timeout=") continue;
    param.remove_prefix(8);
    const std::string text(param);
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    const std::string_view unit(end);
    if (end == text.c_str() || !(value > 0)) return std::nullopt;
    if (unit == "s") return value;
    if (unit == "ms") return value / 1000;
    if (unit == "m") return value * 60;
    return std::nullopt;
  }
  return std::nullopt;
}

// Lookups replaced by a config or credentials reload are destroyed here, on
// the file-watching thread: destroying one waits for its fetches (bounded by
// its timeout), which must never happen on an event loop or on one of the
// lookup's own threads (where a review's last reference may be dropped).
struct LookupGraveyard {
  std::mutex mutex;
  std::vector<std::unique_ptr<registry::ImageLookup>> dead;

  void bury() {
    std::vector<std::unique_ptr<registry::ImageLookup>> now;
    {
      std::lock_guard<std::mutex> lock(mutex);
      now.swap(dead);
    }
  }
};

void json_reply(HttpResponse& res, int status, const Json& body, std::string_view error_reason = {}) {
  res.status = status;
  res.body = write_json(body);
  res.error_reason = error_reason;
}

// /healthz, /readyz and /metrics take GET and HEAD: anything else is
// answered 405 here (true).
bool refuse_unless_get(const HttpRequest& req, HttpResponse& res) {
  if (req.method == "GET" || req.method == "HEAD") return false;
  res.headers.emplace_back("Allow", "GET, HEAD");
  json_reply(res, 405,
             {{"error", "method " + std::string(req.method) + " is not allowed on " + std::string(req.path) +
                            "; use GET"}},
             "method_not_allowed");
  return true;
}

class Webhook {
 public:
  Webhook(const ServeOptions& options, LogLevel level) : options_(options), log_(level) {}

  int run();

 private:
  int start();
  void prepare_process();
  int serve(HttpsServer& https, HttpsServer& metrics);
  bool drain(HttpsServer& https, std::future<void>& https_finished);
  bool load_policy(const char* reason);
  bool load_identity(const char* reason);
  bool load_client_trust(const char* reason);
  void watch_files();
  void watch_signals();
  Json readiness() const;
  int health(std::string_view path, Json& body) const;
  void handle_https(const HttpRequest& req, HttpResponse& res);
  void handle_validate(const HttpRequest& req, HttpResponse& res);
  bool look_up_images(const Policy& current, const HttpRequest& req, HttpResponse& res,
                      const std::shared_ptr<ReadResult>& read, Clock::time_point start);
  void decide_with_images(const std::shared_ptr<const Policy>& policy, const std::shared_ptr<ReadResult>& read,
                          const KnownImages& images, Clock::time_point start, const std::string& remote,
                          const char* image_outcome, HttpResponse& res);
  void decide(const Policy& policy, std::shared_ptr<ReadResult> read, const KnownImages* images,
              const ImageJudgements* judged,
              Clock::time_point start, const std::string& remote, const char* image_outcome, HttpResponse& res);
  void handle_metrics_port(const HttpRequest& req, HttpResponse& res);
  void account(const AdmissionOutcome& outcome, double seconds, const char* image_outcome);
  Status update_lookup(const ImageSettings& settings, const char* reason);
  void watch_lookup_files();
  registry::ImageLookup* current_lookup();
  std::optional<registry::LookupMetrics> lookup_metrics();
  int fail(const std::string& message);

  const ServeOptions options_;
  JsonLog log_;
  Metrics metrics_;
  TlsMaterial tls_;
  SharedSlot<Policy> policy_;
  std::string config_error_;  // why the last config load failed
  std::atomic<bool> draining_{false};

  // The image lookup in force: null while the policy does not look images
  // up. Made from the policy's images: block and the credentials and CA
  // files, and made anew when either changes (a rotated pull Secret).
  std::shared_ptr<LookupGraveyard> graveyard_ = std::make_shared<LookupGraveyard>();
  std::mutex lookup_mutex_;
  std::shared_ptr<registry::ImageLookup> lookup_;
  // lookup_ as reviews read it: without taking lookup_mutex_ (one more lock
  // shared by every worker, on every review). Stored with lookup_.
  struct LookupRef {
    std::shared_ptr<registry::ImageLookup> lookup;
  };
  SharedSlot<LookupRef> lookup_slot_;
  ImageSettings lookup_settings_;
  FileStamp credentials_stamp_, lookup_ca_stamp_;
  registry::LookupMetrics retired_lookup_metrics_;  // of the lookups replaced so far
  registry::JudgedImages judged_images_;

  FileStamp config_stamp_, cert_stamp_, key_stamp_, ca_stamp_;
  std::optional<Address> addr_, metrics_addr_;

  std::mutex control_mutex_;
  std::condition_variable control_;
  bool reload_requested_ = false;
  bool shutdown_requested_ = false;
  bool hurry_requested_ = false;  // a second SIGTERM or SIGINT: skip the rest of the drain delay
  bool stopping_ = false;
};

int Webhook::fail(const std::string& message) {
  std::cerr << "podguard serve: " << message << "\n";
  log_.write(LogLevel::kError, "startup_failed", {{"error", message}});
  return 2;
}

bool Webhook::load_policy(const char* reason) {
  config_stamp_ = stamp(options_.config_path);
  Result<std::string> text = read_file(options_.config_path);
  std::string error = text.ok() ? std::string() : text.error().message();
  ConfigLoad loaded;
  if (text.ok()) {
    loaded = load_config(*text, builtin_rules());
    if (!loaded.policy) error = format_config_errors(options_.config_path, loaded.errors);
  }
  if (loaded.policy) {
    if (Status lookup = update_lookup(loaded.policy->images, reason); !lookup.ok()) {
      error = options_.config_path + ": images: " + lookup.to_string();
      loaded.policy.reset();
    }
  }
  if (!loaded.policy) {
    while (!error.empty() && error.back() == '\n') error.pop_back();
    config_error_ = error;
    metrics_.count_config_reload(false);
    log_.write(LogLevel::kError, "config_rejected",
               {{"path", options_.config_path}, {"reason", reason}, {"error", error},
                {"kept", policy_.load() ? "the previous config stays in force" : "no config loaded"}});
    return false;
  }
  const std::string profile(to_string(loaded.policy->profile));
  policy_.store(std::make_shared<const Policy>(std::move(*loaded.policy)));
  metrics_.count_config_reload(true);
  metrics_.set_config_loaded_at(unix_now());
  log_.write(LogLevel::kInfo, "config_loaded", {{"path", options_.config_path}, {"reason", reason}, {"profile", profile}});
  return true;
}

bool Webhook::load_identity(const char* reason) {
  cert_stamp_ = stamp(options_.tls_cert);
  key_stamp_ = stamp(options_.tls_key);
  auto loaded = TlsIdentity::load(options_.tls_cert, options_.tls_key);
  if (!loaded.ok()) {
    metrics_.count_certificate_reload(false);
    log_.write(LogLevel::kError, "certificate_rejected",
               {{"cert", options_.tls_cert}, {"key", options_.tls_key}, {"reason", reason},
                {"error", loaded.error().to_string()},
                {"kept", tls_.identity() ? "the previous certificate stays in use" : "no certificate loaded"}});
    return false;
  }
  std::shared_ptr<const TlsIdentity> identity = std::move(loaded).value();
  const Json fields = {{"cert", options_.tls_cert},
                       {"reason", reason},
                       {"subject", identity->subject()},
                       {"sha256", identity->fingerprint()},
                       {"not_after", iso_time(identity->not_after())}};
  metrics_.set_certificate_expiry(static_cast<double>(identity->not_after()));
  tls_.set_identity(std::move(identity));  // in use before anyone reads that it is
  metrics_.count_certificate_reload(true);
  log_.write(LogLevel::kInfo, "certificate_loaded", fields);
  return true;
}

bool Webhook::load_client_trust(const char* reason) {
  ca_stamp_ = stamp(options_.client_ca);
  auto trust = ClientTrust::load(options_.client_ca);
  if (!trust.ok()) {
    metrics_.count_certificate_reload(false);
    log_.write(LogLevel::kError, "client_ca_rejected",
               {{"path", options_.client_ca}, {"reason", reason}, {"error", trust.error().to_string()}});
    return false;
  }
  tls_.set_client_trust(std::move(trust).value());
  metrics_.count_certificate_reload(true);
  log_.write(LogLevel::kInfo, "client_ca_loaded", {{"path", options_.client_ca}, {"reason", reason}});
  return true;
}

// Makes the lookup the policy's images: block asks for, unless the one in
// force was made from the same settings and files; an error (a CA file that
// cannot be read, malformed credentials) leaves the lookup in force as it is.
Status Webhook::update_lookup(const ImageSettings& settings, const char* reason) {
  std::unique_lock<std::mutex> lock(lookup_mutex_);
  if (!settings.lookup) {
    if (lookup_) {
      merge(retired_lookup_metrics_, lookup_->metrics());
      lookup_.reset();
      lookup_slot_.store(std::make_shared<const LookupRef>());
      log_.write(LogLevel::kInfo, "image_lookup_stopped", {{"reason", reason}});
    }
    return Status();
  }
  const FileStamp credentials = stamp(settings.credentials);
  const FileStamp ca = stamp(settings.ca_file);
  if (lookup_ && registry::same_client(lookup_settings_, settings) && credentials == credentials_stamp_ &&
      ca == lookup_ca_stamp_) {
    lookup_settings_ = settings;
    return Status();
  }
  lock.unlock();
  // Reading the files and starting threads: outside the lock, which reviews take.
  Result<std::unique_ptr<registry::ImageLookup>> made =
      registry::ImageLookup::create(registry::registry_options(settings));
  if (!made.ok()) return made.status();
  std::shared_ptr<LookupGraveyard> graveyard = graveyard_;
  std::shared_ptr<registry::ImageLookup> fresh(made->release(), [graveyard](registry::ImageLookup* dead) {
    std::lock_guard<std::mutex> bury(graveyard->mutex);
    graveyard->dead.emplace_back(dead);
  });
  lock.lock();
  if (lookup_) merge(retired_lookup_metrics_, lookup_->metrics());
  lookup_ = std::move(fresh);
  lookup_slot_.store(std::make_shared<const LookupRef>(LookupRef{lookup_}));
  lookup_settings_ = settings;
  credentials_stamp_ = credentials;
  lookup_ca_stamp_ = ca;
  lock.unlock();
  std::string platforms;
  for (const std::string& p : settings.platforms) platforms += (platforms.empty() ? "" : ",") + p;
  log_.write(LogLevel::kInfo, "image_lookup_started",
             {{"reason", reason},
              {"timeout_seconds", settings.timeout_seconds},
              {"on_error", std::string(to_string(settings.on_error))},
              {"platforms", platforms},
              {"credentials", settings.credentials},
              {"ca_file", settings.ca_file}});
  return Status();
}

// A rotated pull Secret or CA bundle (kubelet swaps the mounted files) gets
// a new lookup, with the same settings.
void Webhook::watch_lookup_files() {
  ImageSettings settings;
  {
    std::lock_guard<std::mutex> lock(lookup_mutex_);
    if (!lookup_ || (stamp(lookup_settings_.credentials) == credentials_stamp_ &&
                     stamp(lookup_settings_.ca_file) == lookup_ca_stamp_)) {
      return;
    }
    settings = lookup_settings_;
  }
  if (Status s = update_lookup(settings, "registry credentials or CA changed"); !s.ok()) {
    log_.write(LogLevel::kError, "image_lookup_rejected",
               {{"error", s.to_string()}, {"kept", "the lookup in force keeps its credentials and CAs"}});
    // Not retried until the files change again.
    std::lock_guard<std::mutex> lock(lookup_mutex_);
    credentials_stamp_ = stamp(lookup_settings_.credentials);
    lookup_ca_stamp_ = stamp(lookup_settings_.ca_file);
  }
}

// Valid for the rest of the calling thread's turn: the thread holds a
// reference (SharedSlot) until it reads the slot again. A lookup replaced
// meanwhile lives that long, then goes to the graveyard like any other.
registry::ImageLookup* Webhook::current_lookup() {
  const LookupRef* ref = lookup_slot_.current();
  return ref != nullptr ? ref->lookup.get() : nullptr;
}

std::optional<registry::LookupMetrics> Webhook::lookup_metrics() {
  std::lock_guard<std::mutex> lock(lookup_mutex_);
  if (!lookup_ && retired_lookup_metrics_.fetches.empty() && retired_lookup_metrics_.cache_hits.empty()) {
    return std::nullopt;
  }
  registry::LookupMetrics m = retired_lookup_metrics_;
  if (lookup_) merge(m, lookup_->metrics());
  return m;
}

void Webhook::watch_files() {
  const auto interval = std::chrono::duration<double>(options_.reload_interval);
  std::unique_lock<std::mutex> lock(control_mutex_);
  while (!stopping_) {
    control_.wait_for(lock, interval, [this] { return stopping_ || reload_requested_; });
    if (stopping_) break;
    const bool forced = std::exchange(reload_requested_, false);
    lock.unlock();
    const char* why = forced ? "SIGHUP" : "file changed";
    if (forced || stamp(options_.config_path) != config_stamp_) load_policy(why);
    if (forced || stamp(options_.tls_cert) != cert_stamp_ || stamp(options_.tls_key) != key_stamp_) {
      load_identity(why);
    }
    if (!options_.client_ca.empty() && (forced || stamp(options_.client_ca) != ca_stamp_)) load_client_trust(why);
    watch_lookup_files();
    graveyard_->bury();
    lock.lock();
  }
}

void Webhook::watch_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  const timespec tick{0, 200'000'000};
  while (true) {
    {
      std::lock_guard<std::mutex> lock(control_mutex_);
      if (stopping_) return;
    }
    const int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig < 0) continue;
    std::lock_guard<std::mutex> lock(control_mutex_);
    if (sig == SIGHUP) {
      reload_requested_ = true;
    } else {
      log_.write(LogLevel::kInfo, "signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      if (shutdown_requested_) hurry_requested_ = true;
      shutdown_requested_ = true;
    }
    control_.notify_all();
  }
}

Json Webhook::readiness() const {
  Json reasons = Json::array();
  if (draining_) reasons.push_back("shutting down");
  if (!policy_.load()) reasons.push_back("no policy config loaded");
  const auto identity = tls_.identity();
  const std::time_t now = std::time(nullptr);
  if (!identity) {
    reasons.push_back("no serving certificate loaded");
  } else if (now >= identity->not_after()) {
    reasons.push_back("the serving certificate expired at " + iso_time(identity->not_after()));
  } else if (now < identity->not_before()) {
    reasons.push_back("the serving certificate is valid only from " + iso_time(identity->not_before()));
  }
  return reasons;
}

// /healthz and /readyz, on both ports: the status and body.
int Webhook::health(std::string_view path, Json& body) const {
  if (path == "/healthz") {
    body = {{"status", "ok"}};
    return 200;
  }
  const Json reasons = readiness();
  if (reasons.empty()) {
    body = {{"status", "ready"}};
    return 200;
  }
  body = {{"status", "not ready"}, {"reasons", reasons}};
  return 503;
}

// Exceptions are left to HttpsServer: a 500 answer and an internal_error line.
void Webhook::handle_https(const HttpRequest& req, HttpResponse& res) {
  if (req.path == "/validate") {
    if (req.method == "POST") return handle_validate(req, res);
    res.headers.emplace_back("Allow", "POST");
    json_reply(res, 405, {{"error", "method " + std::string(req.method) + " is not allowed on /validate; use POST"}},
               "method_not_allowed");
    return;
  }
  if (req.path == "/healthz" || req.path == "/readyz") {
    if (refuse_unless_get(req, res)) return;
    Json body;
    const int status = health(req.path, body);
    json_reply(res, status, body);
    return;
  }
  json_reply(res, 404, {{"error", "no such path: " + std::string(req.path) + " (the webhook serves POST /validate)"}},
             "not_found");
}

void Webhook::handle_validate(const HttpRequest& req, HttpResponse& res) {
  const auto start = Clock::now();
  const Policy* policy = policy_.current();
  if (policy == nullptr) {  // not reachable: serving starts after the first config loads
    json_reply(res, 503, {{"error", "no policy config loaded"}});
    return;
  }
  auto read = std::make_shared<ReadResult>(read_admission_review(req.body));
  if (policy->images.lookup && look_up_images(*policy, req, res, read, start)) return;
  decide(*policy, std::move(read), nullptr, nullptr, start, *req.remote_addr, nullptr, res);
}

// With images.lookup: the review's images are looked up first. When the
// caches know them all, the review is decided at once; otherwise the answer
// is deferred (the event loop goes on serving) and made on this worker when
// the lookups end, within the budget: images.timeoutSeconds, and less when
// the API server's own timeout is shorter. False when there is nothing to
// look up (the caller decides as without lookups).
bool Webhook::look_up_images(const Policy& current, const HttpRequest& req, HttpResponse& res,
                             const std::shared_ptr<ReadResult>& read, Clock::time_point start) {
  // Views into the review, which the deferred answer keeps (`read`).
  std::vector<std::string_view> images = admission_images(current, *read);
  if (images.empty()) return false;
  // `current` (handle_validate's policy_.current()), held as long as the
  // deferred answer and the judged images' cache need it.
  const std::shared_ptr<const Policy> policy = policy_.held_ref();
  registry::ImageLookup* lookup = current_lookup();
  if (!lookup) return false;  // a reload turning lookups on or off is under way
  std::vector<registry::ImageResult> known;
  known.reserve(images.size());
  for (const std::string_view image : images) {
    std::optional<registry::ImageResult> hit = lookup->cached(image);
    if (!hit) break;
    known.push_back(std::move(*hit));
  }
  if (known.size() == images.size()) {
    const KnownImages answers = registry::known_images(images, std::move(known));
    decide_with_images(policy, read, answers, start, *req.remote_addr, "cached", res);
    return true;
  }
  double budget = policy->images.timeout_seconds;
  if (const std::optional<double> api = api_server_timeout(req.query)) {
    budget = std::max(0.1, std::min(budget, *api - 0.5));  // leave time to decide and answer
  }
  const auto budget_ms = std::chrono::milliseconds(static_cast<long long>(budget * 1000));
  if (req.context == nullptr) {  // a caller that cannot wait: not the HTTPS server
    const KnownImages answers =
        registry::known_images(images, lookup->lookup_all(std::vector<std::string>(images.begin(), images.end()), budget_ms));
    decide_with_images(policy, read, answers, start, *req.remote_addr, "fetched", res);
    return true;
  }
  std::shared_ptr<Responder> responder = req.context->defer();
  std::vector<std::string> asked(images.begin(), images.end());
  lookup->lookup_async(
      std::move(asked),
      [this, responder, policy, read, images = std::move(images), start,
       remote = *req.remote_addr](std::vector<registry::ImageResult> results) {
        // On a lookup thread: the decision is made on the connection's worker.
        responder->send([this, policy, read, images, results = std::move(results), start,
                         remote](HttpResponse& out) {
          const KnownImages answers = registry::known_images(images, results);
          bool failed = false;
          for (const auto& [ref, answer] : answers.entries()) failed |= answer.state == ImageAnswer::State::kFailed;
          decide_with_images(policy, read, answers, start, remote, failed ? "failed" : "fetched", out);
        });
      },
      budget_ms);
  return true;
}

// decide() with the image rules' findings judged before for the images
// known (and those judged now kept for the next reviews).
void Webhook::decide_with_images(const std::shared_ptr<const Policy>& policy, const std::shared_ptr<ReadResult>& read,
                                 const KnownImages& images, Clock::time_point start, const std::string& remote,
                                 const char* image_outcome, HttpResponse& res) {
  std::vector<std::shared_ptr<const ImageJudgement>> keep;
  ImageJudgements judged;
  judged_images_.judgements(policy, images, keep, judged);
  decide(*policy, read, &images, &judged, start, remote, image_outcome, res);
}

// Decides a read review and fills the answer. The review and its result
// are freed, and the decision logged and counted, after the answer has gone
// out: none of that makes the API server wait.
void Webhook::decide(const Policy& policy, std::shared_ptr<ReadResult> read, const KnownImages* images,
                     const ImageJudgements* judged, Clock::time_point start, const std::string& remote, const char* image_outcome,
                     HttpResponse& res) {
  auto result = std::make_shared<AdmissionResult>(review_admission_read(policy, *read, today_utc(), images, judged));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (!result->error.ok()) {
    const std::string message = "malformed AdmissionReview: " + result->error.message();
    json_reply(res, 400, {{"error", message}}, "malformed_review");
    res.after_send = [this, message, seconds, remote, read = std::move(read)] {
      metrics_.observe_request("", "", "error", seconds);
      log_.write(LogLevel::kWarn, "admission_rejected", {{"status", 400}, {"error", message}, {"remote", remote}});
    };
    return;
  }
  json_reply(res, 200, result->outcome->response);
  res.after_send = [this, seconds, image_outcome, result = std::move(result), read = std::move(read)]() mutable {
    read.reset();
    account(*result->outcome, seconds, image_outcome);
  };
}

// Metrics and the log line of one decision.
void Webhook::account(const AdmissionOutcome& o, double seconds, const char* image_outcome) {
  const std::string decision(to_string(o.decision));
  metrics_.observe_request(o.kind, o.operation, decision, seconds);
  if (image_outcome != nullptr) metrics_.count_image_review(image_outcome);
  Json violations = Json::array();
  for (std::size_t i = 0; i < o.violations.size(); ++i) {
    const Violation& v = o.violations[i];
    const std::string action(to_string(v.action));
    metrics_.count_violation(v.rule, action, o.ratcheted[i], 1);
    violations.push_back({{"rule", v.rule},
                          {"action", action},
                          {"container", v.container ? Json(*v.container) : Json(nullptr)},
                          {"path", v.path.str()},
                          {"ratcheted", static_cast<bool>(o.ratcheted[i])}});
  }
  Json omitted = Json::array();
  for (const AdmissionOutcome::Omitted& m : o.omitted) {
    const std::string action(to_string(m.findings.action));
    metrics_.count_violation(m.findings.rule, action, m.ratcheted, m.findings.violations);
    omitted.push_back({{"rule", m.findings.rule},
                       {"action", action},
                       {"count", m.findings.violations},
                       {"ratcheted", m.ratcheted}});
  }
  Json exempted = Json::array();
  for (const AppliedExemption& e : o.exempted) {
    metrics_.count_exemption(e.rule, e.source);
    exempted.push_back({{"rule", e.rule},
                        {"source", e.source},
                        {"reason", e.reason},
                        {"container", e.container ? Json(*e.container) : Json(nullptr)}});
  }
  if (log_.enabled(LogLevel::kInfo)) {
    Json fields = {{"uid", o.uid},
                   {"kind", o.kind},
                   {"namespace", o.ns},
                   {"name", o.name},
                   {"operation", o.operation},
                   {"decision", decision},
                   {"dry_run", o.dry_run},
                   {"duration_ms", seconds * 1000}};
    if (!o.sub_resource.empty()) fields["sub_resource"] = o.sub_resource;
    if (!violations.empty()) fields["violations"] = std::move(violations);
    if (!omitted.empty()) fields["violations_not_listed"] = std::move(omitted);
    if (!exempted.empty()) fields["exempted"] = std::move(exempted);
    if (image_outcome != nullptr) {
      fields["image_lookup"] = image_outcome;
      const Json* images = json::field(&o.response, {"response", "auditAnnotations", "images"});
      if (images != nullptr) fields["images"] = *images;
    }
    log_.write(LogLevel::kInfo, "admission", std::move(fields));
  }
}

// The plain-HTTP port: /healthz, /readyz and /metrics.
void Webhook::handle_metrics_port(const HttpRequest& req, HttpResponse& res) {
  const bool known = req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics";
  if (!known) {
    json_reply(res, 404,
               {{"error", "no such path: " + std::string(req.path) + " (this port serves /metrics, /healthz, /readyz)"}},
               "not_found");
    return;
  }
  if (refuse_unless_get(req, res)) return;
  if (req.path == "/metrics") {
    res.content_type = "text/plain; version=0.0.4; charset=utf-8";
    res.body = metrics_.render();
    return;
  }
  Json body;
  const int status = health(req.path, body);
  json_reply(res, status, body);
}

// Checks the options and loads the config and the TLS files: 0, or the exit
// code of a failed start (2), after saying why.
int Webhook::start() {
  const ServeOptions& o = options_;
  if (o.config_path.empty()) return fail("--config (PODGUARD_CONFIG) is required");
  if (o.tls_cert.empty()) return fail("--tls-cert (PODGUARD_TLS_CERT) is required");
  if (o.tls_key.empty()) return fail("--tls-key (PODGUARD_TLS_KEY) is required");
  if (!(o.shutdown_timeout > 0)) return fail("--shutdown-timeout must be a positive number of seconds");
  if (!(o.drain_delay >= 0) || o.drain_delay >= o.shutdown_timeout) {
    return fail("--drain-delay must be at least 0 and shorter than --shutdown-timeout (" +
                std::to_string(o.shutdown_timeout) + " s)");
  }
  Result<Address> addr = parse_address(o.addr);
  if (!addr.ok()) return fail("--addr: " + addr.error().message());
  addr_ = *addr;
  Result<Address> metrics_addr = parse_address(o.metrics_addr);
  if (!metrics_addr.ok()) return fail("--metrics-addr: " + metrics_addr.error().message());
  metrics_addr_ = *metrics_addr;

  if (!load_policy("startup")) return fail("invalid config:\n" + config_error_);
  if (!load_identity("startup")) {
    return fail("invalid TLS files: " + TlsIdentity::load(o.tls_cert, o.tls_key).status().to_string());
  }
  if (!o.client_ca.empty() && !load_client_trust("startup")) {
    return fail("invalid --client-ca: " + ClientTrust::load(o.client_ca).status().to_string());
  }
  return 0;
}

// Signals, malloc arenas and the open-files limit, before any thread starts.
void Webhook::prepare_process() {
  // Signals are taken by one thread with sigtimedwait; every other thread
  // inherits this mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Bounded malloc arenas (glibc would otherwise make up to eight per core),
  // and a fixed mmap threshold: glibc raises it after each large block is
  // freed, after which a large review's buffers stay in the heap for good.
  mallopt(M_ARENA_MAX, 4);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  // Every connection is a file descriptor, and the soft limit is often 1024:
  // take what the hard limit allows.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

int Webhook::run() {
  prepare_process();  // first: the config may start the image lookup's threads, which must inherit the signal mask
  if (const int code = start(); code != 0) return code;

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr || !tls_.configure(*ctx, !options_.client_ca.empty())) {
    if (ctx != nullptr) SSL_CTX_free(ctx);
    return fail("could not set up TLS");
  }
  HttpsServerOptions https_options;
  https_options.workers = options_.workers;
  https_options.max_connections = options_.max_connections;
  https_options.header_timeout = options_.header_timeout;
  https_options.min_body_rate = options_.min_body_rate;
  https_options.read_timeout = options_.read_timeout;
  https_options.write_timeout = options_.read_timeout;
  https_options.keep_alive_timeout = options_.keep_alive_timeout;
  https_options.backlog = kListenBacklog;
  const auto report = [this](std::string_view event, std::string_view detail) {
    log_.write(LogLevel::kError, std::string(event), {{"error", std::string(detail)}});
  };
  HttpsServer https(
      ctx, [this](const HttpRequest& req, HttpResponse& res) { handle_https(req, res); }, https_options, report,
      [] { malloc_trim(0); });  // after a large review, its memory goes back to the system
  SSL_CTX_free(ctx);  // the server holds its own reference

  HttpsServerOptions plain_options = https_options;
  plain_options.workers = 1;
  plain_options.max_connections = kMetricsMaxConnections;
  plain_options.max_body_bytes = kMetricsMaxBodyBytes;
  plain_options.offload_body_bytes = 0;
  HttpsServer metrics(
      nullptr, [this](const HttpRequest& req, HttpResponse& res) { handle_metrics_port(req, res); }, plain_options,
      report);
  metrics_.set_image_lookup_source([this] { return lookup_metrics(); });
  metrics_.add_listener("https", &https.stats());
  metrics_.add_listener("metrics", &metrics.stats());
  return serve(https, metrics);
}

// Binds both ports, serves until SIGTERM or SIGINT, then drains.
int Webhook::serve(HttpsServer& https, HttpsServer& metrics) {
  const Result<int> https_port = https.bind(addr_->host, addr_->port);
  if (!https_port.ok()) return fail("cannot listen on " + options_.addr + ": " + https_port.error().message());
  const Result<int> metrics_port = metrics.bind(metrics_addr_->host, metrics_addr_->port);
  if (!metrics_port.ok()) {
    return fail("cannot listen on " + options_.metrics_addr + ": " + metrics_port.error().message());
  }

  std::promise<void> https_done;
  std::future<void> https_finished = https_done.get_future();
  std::thread https_thread([&https, &https_done] {
    https.run();
    https_done.set_value();
  });
  std::thread metrics_thread([&metrics] { metrics.run(); });
  std::thread files_thread([this] { watch_files(); });
  std::thread signals_thread([this] { watch_signals(); });
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  log_.write(LogLevel::kInfo, "listening",
             {{"addr", host_port(addr_->host, *https_port)},
              {"port", *https_port},
              {"metrics_addr", host_port(metrics_addr_->host, *metrics_port)},
              {"metrics_port", *metrics_port},
              {"client_ca", !options_.client_ca.empty()},
              {"workers", https.worker_count()},
              {"open_files_limit", static_cast<std::uint64_t>(files.rlim_cur)},
              {"version", PODGUARD_VERSION}});

  const bool clean = drain(https, https_finished);
  if (!clean) {
    log_.write(LogLevel::kError, "shutdown_timeout",
               {{"error", "requests still running after the shutdown timeout; exiting anyway"}});
    log_.flush();
    std::_Exit(1);
  }
  https_thread.join();
  metrics.stop(0);
  metrics_thread.join();
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    stopping_ = true;
  }
  control_.notify_all();
  files_thread.join();
  signals_thread.join();
  log_.write(LogLevel::kInfo, "stopped", Json::object());
  return 0;
}

// The rollout sequence, from SIGTERM: readiness fails at once while
// serving goes on for --drain-delay (endpoints update and the API server
// stops opening connections here); then the listener closes and open
// connections are answered and closed (HttpsServer::stop). False when that
// has not finished by --shutdown-timeout.
bool Webhook::drain(HttpsServer& https, std::future<void>& https_finished) {
  std::unique_lock<std::mutex> lock(control_mutex_);
  control_.wait(lock, [this] { return shutdown_requested_; });
  const auto signalled = Clock::now();
  const auto seconds = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const auto deadline = signalled + seconds(options_.shutdown_timeout);
  draining_ = true;
  log_.write(LogLevel::kInfo, "draining",
             {{"drain_delay_seconds", options_.drain_delay}, {"shutdown_timeout_seconds", options_.shutdown_timeout}});
  control_.wait_until(lock, signalled + seconds(options_.drain_delay), [this] { return hurry_requested_; });
  lock.unlock();
  // What is still open a second before the deadline is cut, so that the
  // exit is clean.
  const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
  log_.write(LogLevel::kInfo, "listener_closed", {{"seconds_left", left}});
  https.stop(std::max(0.0, left - 1.0));
  return https_finished.wait_until(deadline) == std::future_status::ready;
}

}  // namespace

int run_serve(const ServeOptions& options) {
  const std::optional<LogLevel> level = parse_log_level(options.log_level);
  if (!level) {
    std::cerr << "podguard serve: --log-level must be debug, info, warn or error\n";
    return 2;
  }
  Webhook webhook(options, *level);
  return webhook.run();
}

}  // namespace podguard::server

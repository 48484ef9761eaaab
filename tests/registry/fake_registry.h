// Registries in the test process, on 127.0.0.1 with ports chosen by the
// kernel: a small distribution-API server (cpp-httplib) with switchable
// misbehaviour, a token service for the Bearer flow, blob storage that
// registries redirect to, and raw sockets that refuse, never answer or
// trickle. Each records what it was sent, so tests can check headers.
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "registry/test_images.h"

namespace podguard::testing {

inline std::string base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  out.resize(static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                                      reinterpret_cast<const unsigned char*>(s.data()),
                                                      static_cast<int>(s.size()))));
  return out;
}

struct SeenRequest {
  std::string method;
  std::string path;  // with the query
  std::string authorization;
  std::string accept;
};

// An httplib::Server on 127.0.0.1:<free port>, run on its own thread.
class LocalServer {
 public:
  // Plain HTTP, or HTTPS with a PEM certificate and key.
  explicit LocalServer(const std::string& cert_file = "", const std::string& key_file = "")
      : server_(cert_file.empty() ? std::make_unique<httplib::Server>()
                                  : std::make_unique<httplib::SSLServer>(cert_file.c_str(), key_file.c_str())) {}
  virtual ~LocalServer() { stop(); }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  void start() {
    server_->new_task_queue = [] { return new httplib::ThreadPool(16); };
    server_->set_tcp_nodelay(true);  // as registries do; Nagle would add 40 ms a request
    int listening = -1;
    server_->set_socket_options([&listening](socket_t sock) {
      httplib::default_socket_options(sock);
      listening = sock;
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a test server");
    // cpp-httplib listens with a backlog of 5: eight lookups connecting at
    // once overflowed it, and the kernel's dropped SYNs cost a client a 1 s
    // retransmit (a real registry listens with the system's maximum).
    if (listening >= 0) ::listen(listening, SOMAXCONN);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // bind_to_any_port listens already; stop() needs the loop to be running.
    while (!server_->is_running()) std::this_thread::yield();
  }
  void stop() {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
  }

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

  std::vector<SeenRequest> seen() const {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  std::size_t count(const std::string& method, const std::string& path_part) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : seen_) n += r.method == method && r.path.find(path_part) != std::string::npos;
    return n;
  }

 protected:
  void record(const httplib::Request& req) {
    std::string target = req.path;
    if (!req.params.empty()) {
      target += "?";
      for (const auto& [k, v] : req.params) target += k + "=" + v + "&";
    }
    std::lock_guard lock(mutex_);
    seen_.push_back({req.method, target, req.get_header_value("Authorization"), req.get_header_value("Accept")});
  }

  std::unique_ptr<httplib::Server> server_;
  mutable std::mutex mutex_;
  std::vector<SeenRequest> seen_;

 private:
  int port_ = 0;
  std::thread thread_;
};

// The token service of the Bearer flow: GET /token?service=..&scope=..
// answers {"token": "...", "expires_in": N}; with a login set, only to a
// request carrying it as Basic auth.
class TokenServer : public LocalServer {
 public:
  // `refresh_token`: the identity token a POST (OAuth2 refresh grant) must carry.
  explicit TokenServer(std::string user = "", std::string password = "", int expires_in = 300,
                       std::string refresh_token = "")
      : user_(std::move(user)),
        password_(std::move(password)),
        expires_in_(expires_in),
        refresh_token_(std::move(refresh_token)) {
    server_->Get("/token", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      const bool allowed =
          user_.empty() || req.get_header_value("Authorization") == "Basic " + base64(user_ + ":" + password_);
      issue(allowed, req.get_param_value("scope"), "token", res);
    });
    server_->Post("/token", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      const bool allowed = !refresh_token_.empty() && req.get_param_value("grant_type") == "refresh_token" &&
                           req.get_param_value("refresh_token") == refresh_token_ &&
                           req.get_param_value("client_id") == "podguard";
      issue(allowed, req.get_param_value("scope"), "access_token", res);
    });
    start();
  }
  ~TokenServer() override { stop(); }

  [[nodiscard]] std::string realm() const { return "http://" + host() + "/token"; }
  bool valid(const std::string& token) const {
    std::lock_guard lock(mutex_);
    return valid_.count(token) != 0;
  }

 private:
  void issue(bool allowed, const std::string& scope, const char* key, httplib::Response& res) {
    if (!allowed) {
      res.status = 401;
      res.set_content(R"({"details":"incorrect username or password"})", "application/json");
      return;
    }
    std::lock_guard lock(mutex_);
    const std::string token = "tok-" + std::to_string(++issued_) + "-" + scope;
    valid_.insert(token);
    res.set_content(nlohmann::json{{key, token}, {"expires_in", expires_in_}}.dump(), "application/json");
  }

  std::string user_, password_;
  int expires_in_;
  std::string refresh_token_;
  int issued_ = 0;
  std::set<std::string> valid_;
};

// Blob storage a registry redirects to (like S3 behind Docker Hub): serves
// /storage/<digest>?X-Amz-Signature=... to anyone with the signature.
class StorageServer : public LocalServer {
 public:
  static constexpr const char* kSignature = "s3cr3t-signature";

  StorageServer() {
    server_->Get(R"(/storage/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      std::lock_guard lock(mutex_);
      const auto it = blobs_.find(req.matches[1]);
      if (req.get_param_value("X-Amz-Signature") != kSignature || it == blobs_.end()) {
        res.status = 403;
        return;
      }
      res.set_content(it->second, "application/octet-stream");
    });
    start();
  }
  ~StorageServer() override { stop(); }

  void put(const std::string& digest, const std::string& content) {
    std::lock_guard lock(mutex_);
    blobs_[digest] = content;
  }
  [[nodiscard]] std::string url(const std::string& digest) const {
    return "http://" + host() + "/storage/" + digest +
           "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + kSignature;
  }

 private:
  std::map<std::string, std::string> blobs_;
};

// A distribution-API registry serving pushed test images from memory.
class FakeRegistry : public LocalServer {
 public:
  enum class Auth { kNone, kBasic, kBearer };

  struct Options {
    Auth auth = Auth::kNone;
    std::string user;  // kBasic: the login it accepts
    std::string password;
    const TokenServer* tokens = nullptr;  // kBearer: whose tokens it accepts
    StorageServer* storage = nullptr;     // blobs are redirected there when set
    bool send_digest_header = true;       // Docker-Content-Digest on manifests
    std::string cert_file;                // HTTPS with these when set
    std::string key_file;
    bool relative_redirects = false;  // blobs redirected to /blob-store/<digest> here
    bool echo_authorization = false;  // error messages quote the Authorization received
    // Every request waits this long before it is answered: a registry a
    // round trip away (tests/bench/slow_registry).
    std::chrono::milliseconds delay{0};
  };

  FakeRegistry() : FakeRegistry(Options()) {}
  explicit FakeRegistry(Options options)
      : LocalServer(options.cert_file, options.key_file), options_(std::move(options)) {
    server_->Get(R"(/v2/(.+)/manifests/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!admit(req, res)) return;
      serve_manifest(req.matches[1], req.matches[2], res);
    });
    server_->Get(R"(/v2/(.+)/blobs/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!admit(req, res)) return;
      if (options_.relative_redirects) {
        res.status = 302;
        res.set_header("Location",
                       "../../../../blob-store/" + std::string(req.matches[1]) + "@" + std::string(req.matches[2]));
        return;
      }
      serve_blob(req.matches[1], req.matches[2], res);
    });
    server_->Get(R"(/blob-store/(.+)@([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      if (!admit(req, res)) return;
      serve_blob(req.matches[1], req.matches[2], res);
    });
    start();
  }
  ~FakeRegistry() override {
    release();
    stop();
  }

  void push(const Push& p) {
    std::lock_guard lock(mutex_);
    for (const Blob& b : p.blobs) {
      blobs_[p.repository + "@" + b.digest] = b.content;
      if (options_.storage) options_.storage->put(b.digest, b.content);
    }
    for (const ManifestDoc& m : p.manifests) {
      manifests_[p.repository + "@" + m.digest] = m;
      if (!m.reference.empty()) manifests_[p.repository + ":" + m.reference] = m;
    }
  }

  // The next `times` requests get `status` (and Retry-After when given).
  void answer_next(int status, int times, std::string retry_after = "") {
    std::lock_guard lock(mutex_);
    forced_status_ = status;
    forced_times_ = times;
    forced_retry_after_ = std::move(retry_after);
  }

  // Manifest GETs wait in the handler until release(); entered() tells
  // how many are waiting.
  void hold_manifests() {
    std::lock_guard lock(mutex_);
    holding_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      holding_ = false;
    }
    changed_.notify_all();
  }
  // Waits (up to 10 s) until `n` manifest GETs are held.
  bool wait_held(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return held_ >= n; });
  }

  // Replaces the content served for `repository@digest` (a registry lying).
  void corrupt(const std::string& key, const std::string& content) {
    std::lock_guard lock(mutex_);
    if (auto it = manifests_.find(key); it != manifests_.end()) it->second.content = content;
    if (auto it = blobs_.find(key); it != blobs_.end()) it->second = content;
  }

 private:
  // Records the request, applies forced answers and authentication; false
  // when the request has been answered already.
  bool admit(const httplib::Request& req, httplib::Response& res) {
    record(req);
    if (options_.delay.count() > 0) std::this_thread::sleep_for(options_.delay);
    {
      std::lock_guard lock(mutex_);
      if (forced_times_ > 0) {
        --forced_times_;
        res.status = forced_status_;
        if (!forced_retry_after_.empty()) res.set_header("Retry-After", forced_retry_after_);
        res.set_content(R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})", "application/json");
        return false;
      }
    }
    const std::string auth = req.get_header_value("Authorization");
    switch (options_.auth) {
      case Auth::kNone:
        return true;
      case Auth::kBasic:
        if (auth == "Basic " + base64(options_.user + ":" + options_.password)) return true;
        res.set_header("WWW-Authenticate", R"(Basic realm="fake registry")");
        break;
      case Auth::kBearer:
        if (auth.rfind("Bearer ", 0) == 0 && options_.tokens->valid(auth.substr(7))) return true;
        res.set_header("WWW-Authenticate", "Bearer realm=\"" + options_.tokens->realm() +
                                               "\",service=\"fake-registry\",scope=\"repository:" +
                                               std::string(req.matches[1]) + ":pull\"");
        break;
    }
    res.status = 401;
    const std::string message = options_.echo_authorization ? "bad credentials: " + auth : "authentication required";
    res.set_content(nlohmann::json{{"errors", {{{"code", "UNAUTHORIZED"}, {"message", message}}}}}.dump(),
                    "application/json");
    return false;
  }

  void serve_manifest(const std::string& repository, const std::string& reference, httplib::Response& res) {
    std::unique_lock lock(mutex_);
    ++held_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !holding_; });
    --held_;
    const bool by_digest = reference.find(':') != std::string::npos;
    const auto it = manifests_.find(repository + (by_digest ? "@" : ":") + reference);
    if (it == manifests_.end()) {
      res.status = 404;
      res.set_content(R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})", "application/json");
      return;
    }
    if (options_.send_digest_header) res.set_header("Docker-Content-Digest", it->second.digest);
    res.set_content(it->second.content, it->second.media_type.c_str());
  }

  void serve_blob(const std::string& repository, const std::string& digest, httplib::Response& res) {
    std::lock_guard lock(mutex_);
    const auto it = blobs_.find(repository + "@" + digest);
    if (it == blobs_.end()) {
      res.status = 404;
      res.set_content(R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]})",
                      "application/json");
      return;
    }
    if (options_.storage) {
      res.status = 307;
      res.set_header("Location", options_.storage->url(digest));
      return;
    }
    res.set_content(it->second, "application/octet-stream");
  }

  Options options_;
  std::map<std::string, ManifestDoc> manifests_;  // repo:tag and repo@digest
  std::map<std::string, std::string> blobs_;      // repo@digest
  int forced_status_ = 0;
  int forced_times_ = 0;
  std::string forced_retry_after_;
  bool holding_ = false;
  int held_ = 0;
  std::condition_variable changed_;
};

// A TCP socket bound to 127.0.0.1 on a port the kernel picks, listening
// when `backlog` > 0; `port` gets the port.
inline int loopback_socket(int backlog, int& port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || (backlog > 0 && listen(fd, backlog) != 0) ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot bind a socket on 127.0.0.1");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

// A listening socket on 127.0.0.1 that never accepts: connections complete
// in the kernel's backlog and requests are never answered.
class SilentPort {
 public:
  SilentPort() : fd_(loopback_socket(64, port_)) {}
  ~SilentPort() { close(fd_); }
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int port_ = 0;  // before fd_: set while fd_ is made
  int fd_ = -1;
};

// A port nothing listens on: connections are refused.
inline std::string refusing_host() {
  int port = 0;
  close(loopback_socket(0, port));  // bound, never listened on: the port is free and refuses
  return "127.0.0.1:" + std::to_string(port);
}

// Accepts connections and answers with a status line, then one header byte
// every `gap`, forever: each byte resets a client's read timeout.
class TricklingServer {
 public:
  explicit TricklingServer(std::chrono::milliseconds gap = std::chrono::milliseconds(100))
      : fd_(loopback_socket(16, port_)), gap_(gap), thread_([this] { run(); }) {}
  ~TricklingServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  TricklingServer(const TricklingServer&) = delete;
  TricklingServer& operator=(const TricklingServer&) = delete;
  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void run() {
    std::vector<std::thread> clients;
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) break;
      clients.emplace_back([this, c] {
        const std::string head = "HTTP/1.1 200 OK\r\nX-Slow: ";
        bool ok = send(c, head.data(), head.size(), MSG_NOSIGNAL) > 0;
        while (ok && !stop_) {
          std::this_thread::sleep_for(gap_);  // the misbehaviour under test: a byte per gap
          ok = send(c, "a", 1, MSG_NOSIGNAL) == 1;
        }
        close(c);
      });
    }
    for (auto& t : clients) t.join();
  }

  int port_ = 0;  // before fd_: set while fd_ is made
  int fd_ = -1;
  std::chrono::milliseconds gap_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace podguard::testing

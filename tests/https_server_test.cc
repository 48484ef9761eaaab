// The webhook's event-loop HTTPS server on its own, with a handler that
// echoes what it was given: HTTP framing (Content-Length, chunked, 100
// Continue, pipelining, keep-alive and close), protocol errors, limits,
// timeouts and the graceful stop.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sched.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "cert_factory.h"
#include "server/https_server.h"
#include "tls_client.h"

namespace {

namespace fs = std::filesystem;
using podguard::server::HttpRequest;
using podguard::server::HttpResponse;
using podguard::server::HttpsServer;
using podguard::server::HttpsServerOptions;
using podguard::testing::CertFactory;
using podguard::testing::TlsConnection;
using podguard::testing::TlsOptions;
using Json = nlohmann::json;

// A server on 127.0.0.1 whose handler answers with what it received, as
// JSON; paths starting with /slow wait for `release` first, /throw throws.
class EchoServer {
 public:
  // `plain`: HTTP without TLS, as on the metrics port.
  explicit EchoServer(HttpsServerOptions options = {}, bool plain = false) {
    char tmpl[] = "/tmp/podguard-https-XXXXXX";
    dir_ = mkdtemp(tmpl);
    ca_.write_ca(dir_ / "ca.crt");
    const CertFactory::Issued issued = ca_.server({"podguard.podguard.svc"});
    SSL_CTX* ctx = nullptr;
    if (!plain) {
      ctx = SSL_CTX_new(TLS_server_method());
      SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
      SSL_CTX_use_certificate(ctx, issued.cert.get());
      SSL_CTX_use_PrivateKey(ctx, issued.key.get());
    }
    if (options.workers == 0) options.workers = 2;
    server_ = std::make_unique<HttpsServer>(
        ctx, [this](const HttpRequest& req, HttpResponse& res) { handle(req, res); }, options,
        [this](std::string_view event, std::string_view detail) {
          if (event == "connection_refused") ++refused;
          if (event == "internal_error") {
            std::lock_guard<std::mutex> lock(reports_mutex);
            internal_error = detail;
          }
        });
    if (ctx != nullptr) SSL_CTX_free(ctx);
    const podguard::Result<int> bound = server_->bind("127.0.0.1", 0);
    REQUIRE_MESSAGE(bound.ok(), bound.status().to_string());
    port_ = *bound;
    done_ = std::async(std::launch::async, [this] { server_->run(); });
  }

  ~EchoServer() {
    release.set_value();
    server_->stop();
    done_.wait();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::unique_ptr<TlsConnection> connect(int timeout_ms = 5000) {
    TlsOptions o;
    o.ca_file = (dir_ / "ca.crt").string();
    o.timeout_ms = timeout_ms;
    std::string error;
    auto c = TlsConnection::open(port_, o, &error);
    REQUIRE_MESSAGE(c, error);
    return c;
  }

  // A plain TCP connection, for clients that never speak TLS.
  int connect_raw() const {
    const int fd = podguard::testing::connect_loopback(port_);
    REQUIRE(fd >= 0);
    return fd;
  }

  int port() const { return port_; }
  HttpsServer& server() { return *server_; }
  bool stopped_within(std::chrono::milliseconds t) { return done_.wait_for(t) == std::future_status::ready; }

  std::promise<void> release;
  std::atomic<int> slow_started{0};
  std::atomic<int> refused{0};
  std::mutex reports_mutex;
  std::string internal_error;  // the last one reported
  std::promise<void> after_gate;  // set by a test once it has read the answer to /deferred
  std::atomic<int> after_runs{0};
  std::mutex threads_mutex;
  std::map<std::thread::id, int> requests_by_thread;  // of /whoami
  std::atomic<bool> after_saw_answer{false};

 private:
  void handle(const HttpRequest& req, HttpResponse& res) {
    if (req.path.substr(0, 5) == "/slow") {
      ++slow_started;
      released_.wait();
    }
    if (req.path == "/throw") throw std::runtime_error("handler failed");
    if (req.path == "/whoami") {
      std::lock_guard<std::mutex> lock(threads_mutex);
      ++requests_by_thread[std::this_thread::get_id()];
    }
    if (req.path == "/deferred") {
      res.after_send = [this] {
        after_saw_answer = after_gate_.wait_for(std::chrono::seconds(3)) == std::future_status::ready;
        ++after_runs;
      };
    }
    res.headers.emplace_back("X-Echo", "1");
    res.body = Json{{"method", req.method},
                    {"path", req.path},
                    {"query", req.query},
                    {"body", req.body},
                    {"remote", *req.remote_addr}}
                   .dump();
  }

  fs::path dir_;
  CertFactory ca_;
  std::unique_ptr<HttpsServer> server_;
  int port_ = 0;
  std::shared_future<void> released_ = release.get_future().share();
  std::shared_future<void> after_gate_ = after_gate.get_future().share();
  std::future<void> done_;
};

Json echo(const podguard::testing::HttpResponse& r) { return Json::parse(r.body); }

// True when the connection still serves: a POST comes back echoed.
bool still_serves(TlsConnection& c) {
  auto r = c.request("POST", "/still", "ok");
  return r && r->status == 200 && echo(*r)["body"] == "ok";
}

}  // namespace

TEST_CASE("https server: requests reach the handler whole, with the query split off, over keep-alive") {
  EchoServer server;
  auto c = server.connect();
  for (int i = 0; i < 3; ++i) {
    auto r = c->request("POST", "/validate?timeout=10s", "{\"n\":" + std::to_string(i) + "}");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->headers["content-type"] == "application/json");
    CHECK(r->headers["x-echo"] == "1");
    CHECK(r->headers.count("connection") == 0);
    const Json e = echo(*r);
    CHECK(e["method"] == "POST");
    CHECK(e["path"] == "/validate");
    CHECK(e["query"] == "timeout=10s");
    CHECK(e["body"] == "{\"n\":" + std::to_string(i) + "}");
    CHECK(e["remote"].get<std::string>().rfind("127.0.0.1:", 0) == 0);
  }
}

TEST_CASE("https server: a body larger than one TLS record, sent in pieces") {
  EchoServer server;
  auto c = server.connect();
  std::string body(200'000, 'x');
  const std::string text = TlsConnection::request_text("POST", "/big", body);
  for (std::size_t at = 0; at < text.size(); at += 7'001) REQUIRE(c->send(text.substr(at, 7'001)));
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(echo(*r)["body"].get<std::string>().size() == body.size());
  CHECK(still_serves(*c));  // after a large request too
}

TEST_CASE("https server: chunked bodies are decoded, extensions and trailers skipped") {
  EchoServer server;
  auto c = server.connect();
  REQUIRE(c->send("POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5;ext=1\r\nhello\r\n"));
  REQUIRE(c->send("1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n"));
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(echo(*r)["body"] == "hello world!");
  CHECK(still_serves(*c));
}

TEST_CASE("https server: pipelined requests are answered in order") {
  EchoServer server;
  auto c = server.connect();
  REQUIRE(c->send(TlsConnection::request_text("POST", "/one", "1") + TlsConnection::request_text("POST", "/two", "2") +
                  TlsConnection::request_text("GET", "/three", "")));
  for (const char* path : {"/one", "/two", "/three"}) {
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(echo(*r)["path"] == path);
  }
}

// Answers read from a plain connection, counted as they arrive whole.
class AnswerCounter {
 public:
  explicit AnswerCounter(int fd) : fd_(fd) {}
  // Reads until `n` answers have arrived, or the connection ends.
  void read_until(int n, std::atomic<int>& answered) {
    char buf[16384];
    while (answered < n) {
      const ssize_t got = ::recv(fd_, buf, sizeof buf, 0);
      if (got <= 0) return;
      pending_.append(buf, static_cast<std::size_t>(got));
      while (true) {
        const std::size_t end = pending_.find("\r\n\r\n");
        if (end == std::string::npos) break;
        const std::size_t at = pending_.find("Content-Length: ");
        const std::size_t length = std::stoul(pending_.substr(at + 16));
        if (pending_.size() < end + 4 + length) break;
        pending_.erase(0, end + 4 + length);
        ++answered;
      }
    }
  }

 private:
  int fd_;
  std::string pending_;
};

// Over plain HTTP: the flooding client reads and writes from two threads at
// once, which a socket allows and an OpenSSL connection does not (it
// crashed now and then). The turns are the worker's, the same for TLS.
TEST_CASE("https server: a client pipelining without pause does not keep its worker from the others") {
  HttpsServerOptions options;
  options.workers = 1;  // both clients on the same event loop
  EchoServer server(options, /*plain=*/true);
  const int flood = server.connect_raw();
  const int other = server.connect_raw();
  constexpr int kFlood = 3000;
  std::string requests;
  for (int i = 0; i < kFlood; ++i) requests += TlsConnection::request_text("GET", "/flood", "");
  std::atomic<int> answered{0};
  auto reader = std::async(std::launch::async, [&] { AnswerCounter(flood).read_until(kFlood, answered); });
  auto writer = std::async(std::launch::async, [&] {
    return ::send(flood, requests.data(), requests.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(requests.size());
  });
  while (answered == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const std::string request = TlsConnection::request_text("GET", "/other", "");
  REQUIRE(::send(other, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::atomic<int> other_answered{0};
  AnswerCounter(other).read_until(1, other_answered);
  const int flood_answered_by_then = answered;
  CHECK(other_answered == 1);
  CHECK(writer.get());
  reader.wait();
  CHECK(answered == kFlood);
  // Served between the flood's turns, not after all of it.
  CHECK(flood_answered_by_then < kFlood - 500);
  ::close(flood);
  ::close(other);
}

TEST_CASE("https server: Expect: 100-continue gets an interim answer before the body is sent") {
  EchoServer server;
  auto c = server.connect();
  REQUIRE(c->send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c->read_response();
  REQUIRE(interim);
  CHECK(interim->status == 100);
  REQUIRE(c->send("body"));
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(echo(*r)["body"] == "body");
}

TEST_CASE("https server: HTTP/1.0 and Connection: close get one answer, then the connection closes") {
  EchoServer server;
  SUBCASE("HTTP/1.0") {
    auto c = server.connect();
    REQUIRE(c->send("GET /old HTTP/1.0\r\n\r\n"));
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(r->headers["connection"] == "close");
    CHECK(c->closed_by_peer());
  }
  SUBCASE("Connection: close") {
    auto c = server.connect();
    REQUIRE(c->send("GET /bye HTTP/1.1\r\nConnection: close\r\n\r\n"));
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(echo(*r)["path"] == "/bye");
    CHECK(r->headers["connection"] == "close");
    CHECK(c->closed_by_peer());
  }
}

TEST_CASE("https server: protocol errors are answered with a status and a JSON error, then the connection closes") {
  HttpsServerOptions options;
  options.max_body_bytes = 1000;
  EchoServer server(options);
  struct Case {
    std::string request;
    int status;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"NOT A REQUEST LINE AT ALL\r\n\r\n", 400, "request line"},
      {"GET /x HTTP/2.0\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"},
      {"GET x HTTP/1.1\r\n\r\n", 400, "starting with /"},
      {"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", 400, "header line"},
      {"POST /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n", 400, "Content-Length"},
      {"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "Content-Length"},
      {"POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both"},
      {"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "chunked"},
      {"POST /x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413, "larger than"},
      {"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413, "larger than"},
      {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n", 413, "larger than"},
      {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "chunked"},
      {"GET /x HTTP/1.1\r\nX-Big: " + std::string(70'000, 'a') + "\r\n\r\n", 431, "64 KiB"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.request.substr(0, 80));
    auto c = server.connect();
    REQUIRE(c->send(k.request));
    auto r = c->read_response();
    REQUIRE(r);
    CHECK(r->status == k.status);
    CHECK(r->headers["connection"] == "close");
    CHECK(Json::parse(r->body)["error"].get<std::string>().find(k.error) != std::string::npos);
    CHECK(c->closed_by_peer());
  }
  // None of that hurt the server.
  auto c = server.connect();
  auto r = c->request("POST", "/ok", "{}");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("https server: a 413 reaches a client that goes on sending its body") {
  HttpsServerOptions options;
  options.max_body_bytes = 1000;
  EchoServer server(options);
  auto c = server.connect();
  const std::string body(300'000, 'b');
  // The whole request goes out while the server has already answered; the
  // answer must not be lost to a connection reset.
  auto sender = std::async(std::launch::async, [&] { return c->send(TlsConnection::request_text("POST", "/x", body)); });
  sender.wait();
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(r->status == 413);
}

TEST_CASE("https server: a handler exception is a 500, and the server goes on") {
  EchoServer server;
  auto c = server.connect();
  auto r = c->request("GET", "/throw");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(Json::parse(r->body)["error"] == "internal error");
  {
    std::lock_guard<std::mutex> lock(server.reports_mutex);
    CHECK(server.internal_error == "GET /throw: handler failed");
  }
  CHECK(still_serves(*c));
}

TEST_CASE("https server: a handler's after_send work runs once the answer is out") {
  EchoServer server;
  auto c = server.connect();
  const auto start = std::chrono::steady_clock::now();
  auto r = c->request("GET", "/deferred");
  REQUIRE(r);
  // The answer did not wait for the deferred work, which waits for it.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  server.after_gate.set_value();
  for (int i = 0; i < 300 && server.after_runs == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(server.after_runs == 1);
  CHECK(server.after_saw_answer);
  // And the connection goes on.
  REQUIRE(c->request("GET", "/next"));
  CHECK(server.after_runs == 1);
}

TEST_CASE("https server: stalled clients are cut off by the timeouts, without holding up others") {
  HttpsServerOptions options;
  options.header_timeout = 0.5;  // a handshake must be done by then
  options.read_timeout = 0.4;
  options.keep_alive_timeout = 0.6;
  EchoServer server(options);
  // A TCP client that never starts the handshake.
  const int raw = server.connect_raw();
  // A TLS client that stops halfway through its request.
  auto half = server.connect();
  REQUIRE(half->send("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  // An idle keep-alive connection.
  auto idle = server.connect();
  REQUIRE(idle->request("GET", "/first"));
  const auto start = std::chrono::steady_clock::now();
  // Meanwhile others are served at once (each worker has a stalled client).
  for (int i = 0; i < 10; ++i) {
    auto r = server.connect()->request("GET", "/other");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(300));

  auto answer = half->read_response();
  REQUIRE(answer);
  CHECK(answer->status == 408);
  CHECK(half->closed_by_peer());
  CHECK(idle->closed_by_peer());
  timeval tv{3, 0};
  setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte;
  CHECK(::recv(raw, &byte, 1, 0) == 0);  // closed by the server, not timed out
  ::close(raw);
}

TEST_CASE("https server: at --max-connections a newcomer takes the place of the connection idle the longest") {
  HttpsServerOptions options;
  options.max_connections = 2;
  options.workers = 1;
  EchoServer server(options);
  auto oldest = server.connect();
  REQUIRE(oldest->request("GET", "/a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto recent = server.connect();
  REQUIRE(recent->request("GET", "/b"));
  // The third gets in; the connection idle the longest makes room.
  auto newcomer = server.connect();
  REQUIRE(newcomer->request("GET", "/c"));
  CHECK(oldest->closed_by_peer());
  CHECK(still_serves(*recent));
  CHECK(still_serves(*newcomer));
  CHECK(server.server().stats().evicted == 1);
  CHECK(server.server().stats().refused == 0);
}

TEST_CASE("https server: a connection whose request is being answered is never evicted; a newcomer is refused then") {
  HttpsServerOptions options;
  options.max_connections = 1;
  options.workers = 1;
  options.offload_body_bytes = 1;  // /slow runs off the loop, so the loop can accept meanwhile
  EchoServer server(options);
  auto busy = server.connect();
  REQUIRE(busy->send(TlsConnection::request_text("POST", "/slow", "x")));
  while (server.slow_started == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const int raw = server.connect_raw();
  timeval tv{3, 0};
  setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char byte;
  CHECK(::recv(raw, &byte, 1, 0) == 0);  // closed at once
  ::close(raw);
  CHECK(server.refused >= 1);
  server.release.set_value();
  auto r = busy->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  server.release = std::promise<void>();  // the destructor releases again
}

TEST_CASE("https server: a request head trickled byte by byte is cut at the header timeout, however steady") {
  HttpsServerOptions options;
  options.header_timeout = 0.6;
  options.read_timeout = 10;  // each byte comes well within the stall limit
  EchoServer server(options);
  auto c = server.connect();
  const std::string head = "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nX-Padding: ";
  const auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (std::size_t i = 0; i < 200 && !cut; ++i) {
    cut = !c->send(std::string(1, head[i % head.size()]));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(2)) break;
  }
  auto answer = c->read_response();
  REQUIRE(answer);
  CHECK(answer->status == 408);
  CHECK(answer->body.find("header timeout") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1900));
  CHECK(server.server().stats().timeouts[static_cast<std::size_t>(podguard::server::TimeoutPhase::kHeader)] == 1);
}

TEST_CASE("https server: a body that arrives below the minimum rate is cut with a 408") {
  HttpsServerOptions options;
  options.header_timeout = 0.3;
  options.min_body_rate = 1000;  // bytes per second, after the first 0.3 s
  EchoServer server(options);
  auto c = server.connect();
  REQUIRE(c->send("POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 40; ++i) {  // 10 bytes every 50 ms: 200 bytes per second
    if (!c->send(std::string(10, 'x'))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto answer = c->read_response();
  REQUIRE(answer);
  CHECK(answer->status == 408);
  CHECK(answer->body.find("minimum body rate") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  CHECK(server.server().stats().timeouts[static_cast<std::size_t>(podguard::server::TimeoutPhase::kBody)] == 1);
}

TEST_CASE("https server: a large request is handled off the loop; small ones on its worker go on meanwhile") {
  HttpsServerOptions options;
  options.workers = 1;
  options.offload_body_bytes = 64u << 10;
  EchoServer server(options);
  auto big = server.connect();
  REQUIRE(big->send(TlsConnection::request_text("POST", "/slow", std::string(100u << 10, 'b'))));
  while (server.slow_started == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  // The one worker is free: other connections are answered while /slow waits.
  for (int i = 0; i < 5; ++i) {
    auto r = server.connect()->request("POST", "/small", "s");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  server.release.set_value();
  auto r = big->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(echo(*r)["body"].get<std::string>().size() == (100u << 10));
  CHECK(still_serves(*big));
  CHECK(server.server().stats().offloaded == 1);
  server.release = std::promise<void>();
}

TEST_CASE("https server: plain HTTP (the metrics port) is served by the same loop; tricklers do not hold it") {
  HttpsServerOptions options;
  options.workers = 1;
  EchoServer server(options, /*plain=*/true);
  std::vector<int> tricklers;
  for (int i = 0; i < 64; ++i) {
    tricklers.push_back(server.connect_raw());
    REQUIRE(::send(tricklers.back(), "GET /h", 6, MSG_NOSIGNAL) == 6);
  }
  const auto start = std::chrono::steady_clock::now();
  const int fd = server.connect_raw();
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::string answer;
  char buf[4096];
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) answer.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  CHECK(answer.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(answer.find("\"path\":\"/healthz\"") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500));
  for (int t : tricklers) ::close(t);
}

TEST_CASE("https server: many clients at once across the workers") {
  EchoServer server;
  std::vector<std::future<int>> clients;
  for (int t = 0; t < 16; ++t) {
    clients.push_back(std::async(std::launch::async, [&server, t] {
      auto c = server.connect();
      int ok = 0;
      for (int i = 0; i < 25; ++i) {
        const std::string body = "client " + std::to_string(t) + " request " + std::to_string(i);
        auto r = c->request("POST", "/validate", body);
        if (r && r->status == 200 && Json::parse(r->body)["body"] == body) ++ok;
      }
      return ok;
    }));
  }
  for (auto& f : clients) CHECK(f.get() == 25);
}

TEST_CASE("https server: connections are dealt to the workers in turn") {
  HttpsServerOptions options;
  options.workers = 3;
  EchoServer server(options);
  std::vector<std::unique_ptr<TlsConnection>> clients;
  for (int i = 0; i < 12; ++i) {
    clients.push_back(server.connect());
    REQUIRE(clients.back()->request("GET", "/whoami"));
  }
  std::lock_guard<std::mutex> lock(server.threads_mutex);
  REQUIRE(server.requests_by_thread.size() == 3);
  for (const auto& [thread, requests] : server.requests_by_thread) CHECK(requests == 4);
}

TEST_CASE("https server: stop closes the listener, answers the request in flight, closes idle connections") {
  EchoServer server;
  auto idle = server.connect();
  REQUIRE(idle->request("GET", "/warm"));
  auto busy = server.connect();
  REQUIRE(busy->send(TlsConnection::request_text("GET", "/slow", "")));
  while (server.slow_started == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server.server().stop();
  // The listener closes at once: a new connection is refused by the kernel.
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    const int fd = podguard::testing::connect_loopback(server.port());
    refused = fd < 0 && errno == ECONNREFUSED;
    if (fd >= 0) ::close(fd);
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(refused);
  CHECK_FALSE(server.stopped_within(std::chrono::milliseconds(200)));  // /slow still running
  server.release.set_value();
  auto r = busy->read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->headers["connection"] == "close");
  CHECK(busy->closed_by_peer());
  CHECK(idle->closed_by_peer());
  CHECK(server.stopped_within(std::chrono::seconds(3)));
  server.release = std::promise<void>();  // the destructor releases again
}

TEST_CASE("https server: while stopping, pipelined requests are all answered, the last with Connection: close") {
  EchoServer server;
  auto c = server.connect();
  REQUIRE(c->send(TlsConnection::request_text("GET", "/slow", "") + TlsConnection::request_text("GET", "/a", "") +
                  TlsConnection::request_text("GET", "/b", "")));
  while (server.slow_started == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  server.server().stop();
  server.release.set_value();
  for (const char* path : {"/slow", "/a", "/b"}) {
    auto r = c->read_response();
    REQUIRE_MESSAGE(r, path);
    CHECK(r->status == 200);
    CHECK(echo(*r)["path"] == path);
    CHECK((r->headers["connection"] == "close") == (std::string(path) == "/b"));
  }
  CHECK(c->closed_by_peer());
  CHECK(server.stopped_within(std::chrono::seconds(3)));
  server.release = std::promise<void>();
}

TEST_CASE("https server: while stopping, a client that stalls mid-request is cut within about a second") {
  HttpsServerOptions options;
  options.read_timeout = 30;
  options.header_timeout = 30;
  EchoServer server(options);
  auto c = server.connect();
  REQUIRE(c->send("POST /validate HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto start = std::chrono::steady_clock::now();
  server.server().stop();
  auto r = c->read_response();
  REQUIRE(r);
  CHECK(r->status == 408);
  CHECK(server.stopped_within(std::chrono::seconds(3)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
}

TEST_CASE("https server: the default worker count follows the CPUs this process may use, 1 to 8") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  const std::size_t workers = podguard::server::default_worker_count();
  CHECK(workers >= 1);
  CHECK(workers <= 8);
  CHECK(workers <= static_cast<std::size_t>(CPU_COUNT(&set)));
  HttpsServerOptions options;
  options.workers = 3;
  EchoServer server(options);
  CHECK(server.server().worker_count() == 3);
}

// The webhook's HTTP/1.1 server: a few event-loop threads (epoll,
// non-blocking OpenSSL) that each own the connections they are dealt and run
// the handler inline, plus one background thread for requests with large
// bodies. It serves HTTPS (the webhook port) or plain HTTP (the metrics and
// health port) with the same loop, limits and timeouts.
//
// Why not cpp-httplib: it serves each connection on its own thread from a
// bounded pool, so an API server's 32 to 128 keep-alive connections become
// as many threads taking turns on one or two cores, and a few clients that
// trickle bytes take every thread (docs/decisions.md).
//
// HTTP handled here: request line and headers up to 64 KiB (431 beyond),
// bodies by Content-Length or chunked up to a limit (413 beyond, answered
// before the body is read), `Expect: 100-continue`, keep-alive and pipelining,
// HTTP/1.0 and `Connection: close`, and the query string split off the path
// (the API server calls `/validate?timeout=10s`). Protocol errors get a JSON
// body and close the connection after the answer.
//
// What a client cannot do to it (docs/serve.md, "Staying up"): hold a
// connection with a request head that never ends (a total header deadline),
// a body that trickles (a minimum body rate) or an answer it never reads (a
// write stall timeout); keep newcomers out by filling every slot (at the
// connection limit the connection idle or stalled the longest is closed to
// make room); or hold other clients' requests behind an expensive one
// (bodies over `offload_body_bytes` are handled off the event loop).
//
// Thread safety: bind() and run() from one thread; stop() from any thread;
// stats() may be read from any thread at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include "server/http_request_parser.h"

#include "engine/base/status.h"

namespace podguard::server {

struct HttpResponse;

// Answers one request later, from any thread: what a handler that must wait
// on something slow (a registry) takes instead of answering at once, so
// that its worker goes on serving other connections meanwhile. The
// connection reads nothing more until the answer is sent.
class Responder {
 public:
  virtual ~Responder() = default;
  // Sends the answer: `fill` runs on the connection's event-loop thread and
  // fills the response (an exception becomes a 500). Only the first call
  // counts. A Responder destroyed without a call answers 500, so a request
  // is never left hanging. The caller must make sure it is called soon (the
  // webhook's lookups end within their budget): until then the connection
  // is held, even through a shutdown.
  virtual void send(std::function<void(HttpResponse&)> fill) = 0;
};

// Lets a handler defer its answer (see Responder).
class RequestContext {
 public:
  // Marks the request as answered later: the HttpResponse the handler
  // returns is ignored, and the connection waits for the Responder.
  virtual std::shared_ptr<Responder> defer() = 0;

 protected:
  ~RequestContext() = default;
};

struct HttpRequest {
  std::string_view method;  // as sent, e.g. "POST"
  std::string_view path;    // without the query string
  std::string_view query;   // after '?', may be empty
  std::string_view body;    // whole body (de-chunked); valid during the handler call
  const std::string* remote_addr = nullptr;  // "ip:port" of the client
  // Set by the server; nullptr when the caller cannot answer later (a
  // handler called directly). Valid during the handler call only.
  RequestContext* context = nullptr;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow
  // For a 4xx answer: a short stable label for the errors metric (e.g.
  // "malformed_review"); empty: one derived from the status.
  std::string error_reason;
  // Work that can wait until the answer is on its way (logs, metrics,
  // freeing the request's document): run on the event-loop thread as soon
  // as the answer is handed to the kernel, or the connection is gone. Must
  // not throw (an exception is reported and dropped).
  std::function<void()> after_send;
};

// Why a connection was closed without an answer, or answered 408.
enum class TimeoutPhase : std::uint8_t { kHandshake, kHeader, kBody, kWrite, kCount };
std::string_view to_string(TimeoutPhase phase);

// Counters of one server, for /metrics. Safe to update and read from any
// thread.
class HttpStats {
 public:
  std::atomic<std::int64_t> open{0};         // connections open now
  std::atomic<std::uint64_t> accepted{0};    // connections accepted
  std::atomic<std::uint64_t> refused{0};     // closed on accept: no room and nothing to evict
  std::atomic<std::uint64_t> evicted{0};     // closed to make room for a newcomer
  std::atomic<std::uint64_t> tls_failed{0};  // handshakes that failed (not TLS, bad certificate...)
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(TimeoutPhase::kCount)> timeouts{};
  std::atomic<std::uint64_t> offloaded{0};   // requests handled off the event loop
  std::atomic<std::uint64_t> deferred{0};    // requests whose handler answered later (Responder)

  void count_error(int status, std::string_view reason);
  // {status, reason} -> answers; reasons are capped (the rest are "other").
  std::map<std::pair<int, std::string>, std::uint64_t> errors() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<int, std::string>, std::uint64_t> errors_;
};

struct HttpsServerOptions {
  std::size_t workers = 0;  // event-loop threads; 0: the CPUs this process may use (cgroup quota, affinity)
  // Open connections at most; a newcomer beyond it takes the place of the
  // connection idle or stalled the longest (or is refused when every
  // connection is busy being answered).
  std::size_t max_connections = 1024;
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
  std::size_t max_header_bytes = 64u << 10;
  // Seconds from a request's first byte to its last header byte (and from
  // accept to the end of the TLS handshake), in all: a total, not a stall
  // timer, so trickling bytes does not extend it.
  double header_timeout = 5;
  // Bytes per second a body must average once header_timeout seconds have
  // passed since its headers (a 3 MiB body at 256 KiB/s: 17 s).
  double min_body_rate = 256u << 10;
  double read_timeout = 10;        // seconds a client may stall mid-request
  double write_timeout = 10;       // seconds a client may stall reading our answer
  double keep_alive_timeout = 5;   // seconds an idle connection is kept
  // Requests with a body of at least this many bytes are handled on the
  // server's background thread, so that one expensive request never holds
  // the requests of the other connections on its worker. 0: never.
  std::size_t offload_body_bytes = 256u << 10;
  int backlog = 1024;
};

// The number of event-loop threads `workers = 0` means: the CPUs in this
// process's affinity mask, lowered to the cgroup v2 CPU quota when there is
// one (a pod limited to 1 CPU on a 64-core node gets one thread), at most 8.
std::size_t default_worker_count();

class HttpsServer {
 public:
  // An exception becomes a 500 answer and an "internal_error" report naming
  // the request.
  using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;
  // Told about handler exceptions and refused connections, for logging.
  using ErrorSink = std::function<void(std::string_view event, std::string_view detail)>;
  // Called after an offloaded request's memory is freed, on the background
  // thread (the webhook gives memory back to the system there).
  using AfterOffload = std::function<void()>;

  // `ctx` is a configured server SSL_CTX (the server takes a reference), or
  // nullptr for plain HTTP.
  HttpsServer(SSL_CTX* ctx, Handler handler, HttpsServerOptions options, ErrorSink errors = {},
              AfterOffload after_offload = {});
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds and listens on host:port (port 0 picks one). Returns the port, or
  // a Status saying why not.
  Result<int> bind(const std::string& host, int port);

  // Serves on the worker threads until stop(); returns once every
  // connection is closed.
  void run();

  // Thread-safe. Closes the listener at once (connections that arrive later
  // are refused), answers the requests in flight and those already
  // pipelined with `Connection: close`, closes idle connections after a
  // moment of idleness (a client that is just sending its next request gets
  // its answer), cuts clients that stall for a second; then run() returns.
  // Connections still open `cut_after` seconds later are closed.
  void stop(double cut_after = 15);

  std::size_t worker_count() const;
  const HttpStats& stats() const;

 private:
  class Worker;
  class Offload;
  class DeferredAnswer;
  class DeferContext;
  struct Shared;
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace podguard::server

// The webhook's HTTPS/1.1 server: a few event-loop threads (epoll,
// non-blocking OpenSSL) that each own the connections they accept and run the
// handler inline.
//
// Why not cpp-httplib for this port: it serves each connection on its own
// thread, so an API server's 32 to 128 keep-alive connections become as many
// threads taking turns on one or two cores, each turn a context switch and a
// cold cache. With a thread per core the same work costs about half the CPU
// (docs/benchmarks.md). cpp-httplib still serves the plain-HTTP metrics port.
//
// HTTP handled here: request line and headers up to 64 KiB (431 beyond),
// bodies by Content-Length or chunked up to a limit (413 beyond, answered
// before the body is read), `Expect: 100-continue`, keep-alive and pipelining,
// HTTP/1.0 and `Connection: close`, and the query string split off the path
// (the API server calls `/validate?timeout=10s`). Protocol errors get a JSON
// body and close the connection after the answer.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

namespace podguard::server {

struct HttpRequest {
  std::string_view method;  // as sent, e.g. "POST"
  std::string_view path;    // without the query string
  std::string_view query;   // after '?', may be empty
  std::string_view body;    // whole body (de-chunked); valid during the handler call
  const std::string* remote_addr = nullptr;  // "ip:port" of the client
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. Allow
  // Work that can wait until the answer is on its way (logs, metrics,
  // freeing the request's document): run on the same thread as soon as the
  // answer is handed to the kernel, or the connection is gone. Must not
  // throw (an exception is reported and dropped).
  std::function<void()> after_send;
};

struct HttpsServerOptions {
  std::size_t workers = 0;  // event-loop threads; 0: the CPUs this process may use (cgroup quota, affinity)
  std::size_t max_connections = 1024;  // beyond this, new connections are closed at once
  std::size_t max_body_bytes = 3u << 20;
  std::size_t max_header_bytes = 64u << 10;
  double read_timeout = 10;        // seconds a client may stall mid-request (and a handshake may take)
  double write_timeout = 10;       // seconds a client may stall reading our answer
  double keep_alive_timeout = 5;   // seconds an idle connection is kept
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

  // `ctx` is a configured server SSL_CTX; the server takes a reference.
  HttpsServer(SSL_CTX* ctx, Handler handler, HttpsServerOptions options, ErrorSink errors = {});
  ~HttpsServer();
  HttpsServer(const HttpsServer&) = delete;
  HttpsServer& operator=(const HttpsServer&) = delete;

  // Binds and listens on host:port (port 0 picks one). Returns the port, or
  // -1 with `error` set.
  int bind(const std::string& host, int port, std::string& error);

  // Serves on the worker threads until stop(); returns once every
  // connection is closed.
  void run();

  // Thread-safe. Stops accepting, closes idle connections, lets requests in
  // progress finish (their answers say `Connection: close`), after which
  // run() returns.
  void stop();

  std::size_t worker_count() const;

 private:
  class Worker;
  struct Shared;
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace podguard::server

#include "server/https_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include <openssl/err.h>

#include "server/http_request_parser.h"

namespace podguard::server {
namespace {

using Clock = std::chrono::steady_clock;

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

constexpr std::size_t kReadChunk = 16u << 10;     // one TLS record's worth
constexpr std::size_t kKeepBufferBytes = 64u << 10;  // larger buffers are released after a request
constexpr std::size_t kLingerBytes = 4u << 20;    // discarded after an early answer, at most
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
constexpr auto kAcceptPause = std::chrono::milliseconds(250);
// Requests a connection may have answered in one turn before the others on
// its worker get theirs: a client that pipelines without pause cannot keep
// a worker to itself.
constexpr int kRequestsPerTurn = 16;

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

void close_fd(int fd) {
  if (fd >= 0) ::close(fd);
}

// A byte buffer that is read into in place (no zero-filling on growth) and
// consumed from the front.
class Buffer {
 public:
  char* data() { return data_.get() + begin_; }
  const char* data() const { return data_.get() + begin_; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::string_view view() const { return {data(), size()}; }

  // Room for at least `n` more bytes at the end.
  char* prepare(std::size_t n) {
    if (capacity_ - end_ < n) {
      if (begin_ > 0 && capacity_ - size() >= n) {
        std::memmove(data_.get(), data(), size());
      } else {
        std::size_t cap = std::max<std::size_t>(capacity_ * 2, size() + n);
        std::unique_ptr<char[]> bigger(new char[cap]);
        if (size() > 0) std::memcpy(bigger.get(), data(), size());
        data_ = std::move(bigger);
        capacity_ = cap;
      }
      end_ -= begin_;
      begin_ = 0;
    }
    return data_.get() + end_;
  }
  void commit(std::size_t n) { end_ += n; }
  void consume(std::size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  // Gives memory back after an unusually large request.
  void shrink(std::size_t keep) {
    if (capacity_ > keep && empty()) {
      data_.reset();
      capacity_ = 0;
      begin_ = end_ = 0;
    }
  }

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

enum class State { kHandshake, kReading, kWriting, kLingering };

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  State state = State::kHandshake;
  std::string remote;
  Buffer in;
  std::string out;
  std::size_t out_pos = 0;
  Clock::time_point deadline;
  bool close_after_write = false;  // the answer being written is the last
  bool interim = false;            // the bytes being written are "100 Continue"
  bool tls_failed = false;         // no close_notify may be sent
  bool requeued = false;           // in the worker's list of turns to continue
  int turn_requests = 0;           // requests answered in the current turn
  std::size_t lingered = 0;
  std::function<void()> after_send;  // of the answer being written

  HttpRequestParser parser;  // the request being read

  std::list<Connection>::iterator self;
};

}  // namespace

std::size_t default_worker_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::size_t cpus = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = static_cast<std::size_t>(CPU_COUNT(&set));
  if (cpus == 0) cpus = std::max(1u, std::thread::hardware_concurrency());
  // cgroup v2: "max 100000" or "QUOTA PERIOD".
  std::ifstream quota_file("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (quota_file >> quota >> period && quota != "max") {
    try {
      const double q = std::stod(quota), p = std::stod(period);
      if (q > 0 && p > 0) cpus = std::min(cpus, static_cast<std::size_t>(std::max(1.0, std::ceil(q / p))));
    } catch (...) {
    }
  }
  return std::clamp<std::size_t>(cpus, 1, 8);  // more would idle: one review takes ~30 µs
}

struct HttpsServer::Shared {
  SSL_CTX* ctx = nullptr;
  Handler handler;
  HttpsServerOptions options;
  ErrorSink errors;
  int listen_fd = -1;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopping{false};
  std::vector<Worker*> workers;
  std::atomic<std::size_t> next_worker{0};  // round-robin owner of the next connection

  void report(std::string_view event, std::string_view detail) const {
    if (errors) errors(event, detail);
  }
};

class HttpsServer::Worker {
 public:
  explicit Worker(Shared& shared) : shared_(shared) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Worker() {
    while (!connections_.empty()) close_connection(connections_.front());
    for (Handover& h : take_handovers()) refuse(h.fd);
    close_fd(wake_fd_);
    close_fd(epoll_fd_);
  }

  bool ready() const { return epoll_fd_ >= 0 && wake_fd_ >= 0; }

  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }

  void run();

  // Gives this worker a connection another worker accepted.
  void hand_over(int fd, std::string remote) {
    {
      std::lock_guard<std::mutex> lock(handover_mutex_);
      handovers_.push_back({fd, std::move(remote)});
    }
    wake();
  }

 private:
  struct Handover {
    int fd;
    std::string remote;
  };
  std::vector<Handover> take_handovers() {
    std::lock_guard<std::mutex> lock(handover_mutex_);
    return std::exchange(handovers_, {});
  }
  bool no_handovers() {
    std::lock_guard<std::mutex> lock(handover_mutex_);
    return handovers_.empty();
  }
  void refuse(int fd) {
    ::close(fd);
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }
  void adopt(int fd, std::string remote);

  static inline char listener_tag_ = 0;
  static inline char wake_tag_ = 0;

  void accept_all();
  void drive(Connection& c);
  void dispatch(Connection& c);
  void respond_error(Connection& c, int status, std::string_view message);
  void begin_write(Connection& c, HttpResponse& response, bool close);
  void run_after_send(Connection& c);
  void finish_request(Connection& c);
  void close_connection(Connection& c);
  void begin_linger(Connection& c);
  void sweep(Clock::time_point now);
  void start_draining();
  void watch_listener();
  void pause_accepting(int error);
  void resume_accepting();
  bool read_tls(Connection& c, bool& progressed);

  Shared& shared_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool draining_ = false;
  // Set while this worker has stopped accepting because the process ran out
  // of file descriptors (or memory): the listening socket stays readable, so
  // accepting on would spin; it is watched again after kAcceptPause.
  std::optional<Clock::time_point> accept_paused_until_;
  std::list<Connection> connections_;
  Clock::time_point now_ = Clock::now();
  std::mutex handover_mutex_;
  std::vector<Handover> handovers_;
  std::vector<Connection*> requeued_;  // connections whose turn was cut short
};

void HttpsServer::Worker::watch_listener() {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one worker woken per new connection
  ev.data.ptr = &listener_tag_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, shared_.listen_fd, &ev);
}

void HttpsServer::Worker::run() {
  watch_listener();
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_tag_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);

  epoll_event events[64];
  Clock::time_point next_sweep = Clock::now() + kSweepInterval;
  while (true) {
    if (shared_.stopping.load(std::memory_order_acquire) && !draining_) start_draining();
    if (draining_ && connections_.empty() && no_handovers()) break;
    const int wait_ms = requeued_.empty() ? static_cast<int>(kSweepInterval.count()) : 0;
    const int n = epoll_wait(epoll_fd_, events, 64, wait_ms);
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == &listener_tag_) {
        if (!draining_) accept_all();
      } else if (tag == &wake_tag_) {
        std::uint64_t value;
        [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &value, sizeof value);
        for (Handover& h : take_handovers()) {
          if (draining_) {
            refuse(h.fd);
          } else {
            adopt(h.fd, std::move(h.remote));
          }
        }
      } else {
        drive(*static_cast<Connection*>(tag));
      }
    }
    if (!requeued_.empty()) {
      // Turns cut short for fairness: more requests are already buffered,
      // and no epoll event would announce them.
      std::vector<Connection*> turns = std::exchange(requeued_, {});
      for (Connection* c : turns) {
        c->requeued = false;
        drive(*c);
      }
    }
    if (now_ >= next_sweep) {
      sweep(now_);
      next_sweep = now_ + kSweepInterval;
      if (accept_paused_until_ && now_ >= *accept_paused_until_) resume_accepting();
    }
  }
}

void HttpsServer::Worker::start_draining() {
  draining_ = true;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, shared_.listen_fd, nullptr);
  for (Handover& h : take_handovers()) refuse(h.fd);
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& c = *it++;
    const bool idle = c.state == State::kHandshake || (c.state == State::kReading && c.in.empty());
    if (idle) close_connection(c);  // the others' answers say Connection: close
  }
}

void HttpsServer::Worker::pause_accepting(int error) {
  if (accept_paused_until_) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, shared_.listen_fd, nullptr);
  accept_paused_until_ = now_ + kAcceptPause;
  shared_.report("accept_paused", std::string(std::strerror(error)) +
                                      "; new connections wait in the listen backlog (raise the open files limit, "
                                      "or lower --max-connections)");
}

void HttpsServer::Worker::resume_accepting() {
  accept_paused_until_.reset();
  if (!draining_) watch_listener();
}

void HttpsServer::Worker::accept_all() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = accept4(shared_.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_accepting(errno);
      return;  // EAGAIN: another worker took it, or none left
    }
    if (shared_.connections.fetch_add(1, std::memory_order_relaxed) >= shared_.options.max_connections) {
      shared_.report("connection_refused", "--max-connections reached");
      refuse(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string remote;
    char host[INET6_ADDRSTRLEN] = "";
    char port[8] = "";
    if (getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
      remote = addr.ss_family == AF_INET6 ? "[" + std::string(host) + "]:" + port : std::string(host) + ":" + port;
    }
    // Connections are dealt round-robin, whichever worker accepted them:
    // each worker then carries the same share of the load, where the
    // accepting worker (the one idle at that moment) would otherwise
    // collect most of them.
    const std::size_t n = shared_.workers.size();
    Worker* owner = shared_.workers[shared_.next_worker.fetch_add(1, std::memory_order_relaxed) % n];
    if (owner == this) {
      adopt(fd, std::move(remote));
    } else {
      owner->hand_over(fd, std::move(remote));
    }
  }
}

void HttpsServer::Worker::adopt(int fd, std::string remote) {
  Connection& c = connections_.emplace_back();
  c.self = std::prev(connections_.end());
  c.fd = fd;
  c.remote = std::move(remote);
  c.parser = HttpRequestParser({shared_.options.max_header_bytes, shared_.options.max_body_bytes});
  c.ssl = SSL_new(shared_.ctx);
  if (c.ssl == nullptr || SSL_set_fd(c.ssl, fd) != 1) {
    ERR_clear_error();
    c.tls_failed = true;
    close_connection(c);
    return;
  }
  SSL_set_accept_state(c.ssl);
  c.deadline = now_ + seconds(shared_.options.read_timeout);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &c;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    c.tls_failed = true;
    close_connection(c);
    return;
  }
  drive(c);
}

// Right after the answer is written, while the request's memory is still
// in the cache: freeing a document there costs a fraction of what it costs
// after serving a batch of other connections (whose documents would be
// alive at the same time, cold, and overflow the allocator's caches).
void HttpsServer::Worker::run_after_send(Connection& c) {
  if (!c.after_send) return;
  std::function<void()> work = std::move(c.after_send);
  c.after_send = nullptr;
  try {
    work();
  } catch (const std::exception& e) {
    shared_.report("internal_error", e.what());
  } catch (...) {
    shared_.report("internal_error", "unknown exception after an answer");
  }
}

void HttpsServer::Worker::close_connection(Connection& c) {
  run_after_send(c);
  if (c.requeued) requeued_.erase(std::find(requeued_.begin(), requeued_.end(), &c));
  if (c.ssl != nullptr) {
    if (!c.tls_failed && c.state != State::kHandshake && c.state != State::kLingering) {
      ERR_clear_error();
      SSL_shutdown(c.ssl);  // sends close_notify; the peer's is not awaited
    }
    SSL_free(c.ssl);
    ERR_clear_error();
  }
  if (c.fd >= 0) {
    ::close(c.fd);  // also removes it from the epoll set
    shared_.connections.fetch_sub(1, std::memory_order_relaxed);
  }
  connections_.erase(c.self);
}

// After an answer sent before the request was read to its end (413, 431,
// 400), closing with unread bytes would reset the connection and could
// destroy the answer in flight; so the write side is shut and whatever the
// client still sends is read and dropped, for a second at most.
void HttpsServer::Worker::begin_linger(Connection& c) {
  ERR_clear_error();
  SSL_shutdown(c.ssl);
  ERR_clear_error();
  ::shutdown(c.fd, SHUT_WR);
  c.state = State::kLingering;
  c.deadline = now_ + kLingerTime;
  c.lingered = 0;
}

void HttpsServer::Worker::sweep(Clock::time_point now) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& c = *it++;
    if (now < c.deadline) continue;
    if (c.state == State::kReading && !c.in.empty()) {
      // A request begun and not finished: say why before closing.
      respond_error(c, 408, "the request stalled for longer than the read timeout");
      drive(c);
    } else {
      close_connection(c);
    }
  }
}

bool HttpsServer::Worker::read_tls(Connection& c, bool& progressed) {
  progressed = false;
  char* dst = c.in.prepare(kReadChunk);
  ERR_clear_error();
  const int r = SSL_read(c.ssl, dst, static_cast<int>(kReadChunk));
  if (r > 0) {
    c.in.commit(static_cast<std::size_t>(r));
    progressed = true;
    return true;
  }
  const int err = SSL_get_error(c.ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return true;
  if (err != SSL_ERROR_ZERO_RETURN) c.tls_failed = true;
  return false;  // closed by the peer, or broken
}

void HttpsServer::Worker::drive(Connection& c) {
  c.turn_requests = 0;
  while (true) {
    switch (c.state) {
      case State::kHandshake: {
        ERR_clear_error();
        const int r = SSL_accept(c.ssl);
        if (r == 1) {
          c.state = State::kReading;
          c.deadline = now_ + seconds(shared_.options.keep_alive_timeout);
          continue;
        }
        const int err = SSL_get_error(c.ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
        c.tls_failed = true;  // not TLS, a certificate refused, ...
        close_connection(c);
        return;
      }
      case State::kReading: {
        if (!c.in.empty()) {
          const HttpRequestParser::Status status = c.parser.parse(c.in.view());
          if (status == HttpRequestParser::Status::kComplete) {
            if (++c.turn_requests > kRequestsPerTurn) {
              if (!c.requeued) {
                c.requeued = true;
                requeued_.push_back(&c);
              }
              return;
            }
            dispatch(c);
            continue;
          }
          if (status == HttpRequestParser::Status::kError) {
            respond_error(c, c.parser.error_status(), c.parser.error_message());
            continue;
          }
          if (c.parser.take_continue()) {
            c.out = "HTTP/1.1 100 Continue\r\n\r\n";
            c.out_pos = 0;
            c.interim = true;
            c.state = State::kWriting;
            continue;
          }
        }
        if (draining_ && c.in.empty()) {
          close_connection(c);
          return;
        }
        bool progressed = false;
        if (!read_tls(c, progressed)) {
          close_connection(c);
          return;
        }
        if (!progressed) return;  // wait for more
        // A stall is measured from the last bytes received.
        c.deadline = now_ + seconds(shared_.options.read_timeout);
        continue;
      }
      case State::kWriting: {
        while (c.out_pos < c.out.size()) {
          ERR_clear_error();
          const int r = SSL_write(c.ssl, c.out.data() + c.out_pos, static_cast<int>(c.out.size() - c.out_pos));
          if (r > 0) {
            c.out_pos += static_cast<std::size_t>(r);
            continue;
          }
          const int err = SSL_get_error(c.ssl, r);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
          c.tls_failed = true;
          close_connection(c);
          return;
        }
        run_after_send(c);
        if (c.interim) {  // "100 Continue" sent; back to reading the body
          c.interim = false;
          c.out.clear();
          c.out_pos = 0;
          c.state = State::kReading;
          c.deadline = now_ + seconds(shared_.options.read_timeout);
          continue;
        }
        if (c.close_after_write) {
          begin_linger(c);
          continue;
        }
        finish_request(c);
        continue;
      }
      case State::kLingering: {
        char sink[16384];
        while (true) {
          const ssize_t n = ::recv(c.fd, sink, sizeof sink, 0);
          if (n > 0) {
            c.lingered += static_cast<std::size_t>(n);
            if (c.lingered > kLingerBytes) break;
            continue;
          }
          if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
          if (n < 0 && errno == EINTR) continue;
          break;  // EOF or error
        }
        close_connection(c);
        return;
      }
    }
  }
}

// The answer is on its way and the connection stays: drop the request's
// bytes and get ready for the next (already buffered ones are pipelined).
void HttpsServer::Worker::finish_request(Connection& c) {
  c.in.consume(c.parser.consumed());
  c.parser.reset();
  c.out_pos = 0;
  if (c.out.capacity() > kKeepBufferBytes) {
    std::string().swap(c.out);
  } else {
    c.out.clear();
  }
  c.in.shrink(kKeepBufferBytes);
  c.state = State::kReading;
  c.deadline = now_ + seconds(c.in.empty() ? shared_.options.keep_alive_timeout : shared_.options.read_timeout);
}

void HttpsServer::Worker::respond_error(Connection& c, int status, std::string_view message) {
  HttpResponse response;
  response.status = status;
  response.body.reserve(message.size() + 16);
  response.body += "{\"error\":\"";
  for (char ch : message) {  // the messages are ours; only quotes need care
    if (ch == '"' || ch == '\\') response.body += '\\';
    response.body += ch;
  }
  response.body += "\"}";
  begin_write(c, response, true);
}

void HttpsServer::Worker::begin_write(Connection& c, HttpResponse& response, bool close) {
  close = close || !c.parser.keep_alive() || draining_ || shared_.stopping.load(std::memory_order_relaxed);
  c.close_after_write = close;
  std::string& out = c.out;
  out.clear();
  const bool with_body = !c.parser.is_head();
  out.reserve(160 + response.body.size());
  out += "HTTP/1.1 ";
  char number[24];
  out.append(number, std::to_chars(number, number + sizeof number, response.status).ptr);
  out += ' ';
  out += reason_phrase(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nContent-Length: ";
  out.append(number, std::to_chars(number, number + sizeof number, response.body.size()).ptr);
  for (const auto& [name, value] : response.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  out += close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n";
  if (with_body) out += response.body;
  c.out_pos = 0;
  c.interim = false;
  c.after_send = std::move(response.after_send);
  c.state = State::kWriting;
  c.deadline = now_ + seconds(shared_.options.write_timeout);
}

void HttpsServer::Worker::dispatch(Connection& c) {
  HttpRequest request;
  const std::string_view data = c.in.view();
  request.method = c.parser.method(data);
  request.path = c.parser.path(data);
  request.query = c.parser.query(data);
  request.body = c.parser.body(data);
  request.remote_addr = &c.remote;
  HttpResponse response;
  std::optional<std::string> failure;
  try {
    shared_.handler(request, response);
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "unknown exception";
  }
  if (failure) {
    shared_.report("internal_error", std::string(request.method) + " " + std::string(request.path) + ": " + *failure);
    response = HttpResponse{};
    response.status = 500;
    response.body = R"({"error":"internal error"})";
  }
  begin_write(c, response, false);
}

HttpsServer::HttpsServer(SSL_CTX* ctx, Handler handler, HttpsServerOptions options, ErrorSink errors)
    : shared_(std::make_unique<Shared>()) {
  SSL_CTX_up_ref(ctx);
  shared_->ctx = ctx;
  shared_->handler = std::move(handler);
  shared_->options = options;
  shared_->errors = std::move(errors);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Without read-ahead OpenSSL reads each TLS record with two read(2) calls,
  // its 5-byte header and then its body; with it, one call takes what is
  // there. (The worker reads until OpenSSL wants more, so bytes it buffered
  // ahead are never left waiting for an epoll event.)
  SSL_CTX_set_read_ahead(ctx, 1);
  const std::size_t n = options.workers > 0 ? options.workers : default_worker_count();
  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(*shared_));
    shared_->workers.push_back(workers_.back().get());
  }
}

HttpsServer::~HttpsServer() {
  workers_.clear();
  close_fd(shared_->listen_fd);
  SSL_CTX_free(shared_->ctx);
}

std::size_t HttpsServer::worker_count() const { return workers_.size(); }

int HttpsServer::bind(const std::string& host, int port, std::string& error) {
  for (const auto& w : workers_) {
    if (!w->ready()) {
      error = std::string("cannot create an event loop: ") + std::strerror(errno);
      return -1;
    }
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    error = "cannot resolve " + host + ": " + gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
  error = "no address for " + host;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, shared_->options.backlog) != 0) {
      error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    close_fd(shared_->listen_fd);
    shared_->listen_fd = fd;
    if (bound.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    return ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  return -1;
}

void HttpsServer::run() {
  std::vector<std::thread> threads;
  threads.reserve(workers_.size());
  for (std::size_t i = 1; i < workers_.size(); ++i) threads.emplace_back([w = workers_[i].get()] { w->run(); });
  workers_[0]->run();
  for (std::thread& t : threads) t.join();
}

void HttpsServer::stop() {
  shared_->stopping.store(true, std::memory_order_release);
  for (const auto& w : workers_) w->wake();
}

}  // namespace podguard::server

#include "server/https_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
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
#include <thread>

#include <openssl/err.h>

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

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// True when the comma-separated header value lists `token`.
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
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
  std::size_t capacity() const { return capacity_; }
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
  void append(std::string_view s) {
    std::memcpy(prepare(s.size()), s.data(), s.size());
    commit(s.size());
  }
  void clear() { begin_ = end_ = 0; }
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
  std::size_t lingered = 0;
  std::function<void()> after_send;  // of the answer being written

  // The request being read.
  bool headers_parsed = false;
  std::size_t scanned = 0;       // bytes of `in` searched for the end of the headers
  std::size_t header_bytes = 0;  // request line and headers, with the blank line
  std::size_t content_length = 0;
  bool chunked = false;
  bool keep_alive = true;
  bool continue_sent = false;
  bool head = false;
  // Where the method, path and query are in `in` (offsets: `in` may move
  // its bytes when it grows, but the request's start stays at offset 0).
  std::size_t method_at = 0, method_len = 0, path_at = 0, path_len = 0, query_at = 0, query_len = 0;
  std::string dechunked;
  std::size_t body_bytes_in_buffer = 0;  // what `in` holds of this request after the headers

  std::list<Connection>::iterator self;
};

enum class Parse { kNeedMore, kComplete, kError };

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
  Parse parse(Connection& c);
  void dispatch(Connection& c);
  void respond_error(Connection& c, int status, std::string_view message);
  void begin_write(Connection& c, HttpResponse& response, bool close);
  void run_after_send(Connection& c);
  void finish_request(Connection& c);
  void close_connection(Connection& c);
  void begin_linger(Connection& c);
  void sweep(Clock::time_point now);
  void start_draining();
  bool read_tls(Connection& c, bool& progressed);

  Shared& shared_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool draining_ = false;
  std::list<Connection> connections_;
  Clock::time_point now_ = Clock::now();
  std::mutex handover_mutex_;
  std::vector<Handover> handovers_;
};

void HttpsServer::Worker::run() {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;
  ev.data.ptr = &listener_tag_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, shared_.listen_fd, &ev);
  ev.events = EPOLLIN;
  ev.data.ptr = &wake_tag_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);

  epoll_event events[64];
  Clock::time_point next_sweep = Clock::now() + kSweepInterval;
  while (true) {
    if (shared_.stopping.load(std::memory_order_acquire) && !draining_) start_draining();
    if (draining_ && connections_.empty() && no_handovers()) break;
    const int n = epoll_wait(epoll_fd_, events, 64, static_cast<int>(kSweepInterval.count()));
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
    if (now_ >= next_sweep) {
      sweep(now_);
      next_sweep = now_ + kSweepInterval;
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
    if (idle) {
      close_connection(c);
    } else {
      c.keep_alive = false;  // answered with Connection: close
    }
  }
}

void HttpsServer::Worker::accept_all() {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = accept4(shared_.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) shared_.report("accept_failed", std::strerror(errno));
      return;  // EAGAIN: another worker took it, or none left
    }
    if (shared_.connections.fetch_add(1, std::memory_order_relaxed) >= shared_.options.max_connections) {
      shared_.connections.fetch_sub(1, std::memory_order_relaxed);
      shared_.report("connection_refused", "--max-connections reached");
      ::close(fd);
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
          const Parse p = parse(c);
          if (p == Parse::kComplete) {
            dispatch(c);
            continue;
          }
          if (p == Parse::kError) continue;  // an error answer is being written
          if (c.state == State::kWriting) continue;  // 100 Continue
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
          // Read first: parse() would find the same incomplete request.
          bool progressed = false;
          if (!read_tls(c, progressed)) {
            close_connection(c);
            return;
          }
          if (!progressed) return;
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
  c.in.consume(c.header_bytes + c.body_bytes_in_buffer);
  c.headers_parsed = false;
  c.scanned = 0;
  c.header_bytes = 0;
  c.content_length = 0;
  c.chunked = false;
  c.continue_sent = false;
  c.head = false;
  c.body_bytes_in_buffer = 0;
  c.method_at = c.method_len = c.path_at = c.path_len = c.query_at = c.query_len = 0;
  c.dechunked.clear();
  if (c.dechunked.capacity() > kKeepBufferBytes) std::string().swap(c.dechunked);
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
  close = close || !c.keep_alive || draining_ || shared_.stopping.load(std::memory_order_relaxed);
  c.close_after_write = close;
  std::string& out = c.out;
  out.clear();
  const bool with_body = !c.head;
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
  const char* base = c.in.data();
  request.method = {base + c.method_at, c.method_len};
  request.path = {base + c.path_at, c.path_len};
  request.query = {base + c.query_at, c.query_len};
  request.body = c.chunked ? std::string_view(c.dechunked)
                           : std::string_view(c.in.data() + c.header_bytes, c.content_length);
  request.remote_addr = &c.remote;
  HttpResponse response;
  try {
    shared_.handler(request, response);
  } catch (const std::exception& e) {
    shared_.report("internal_error", e.what());
    response = HttpResponse{};
    response.status = 500;
    response.body = R"({"error":"internal error"})";
  } catch (...) {
    shared_.report("internal_error", "unknown exception");
    response = HttpResponse{};
    response.status = 500;
    response.body = R"({"error":"internal error"})";
  }
  begin_write(c, response, false);
}

// Parses as much of the request in `c.in` as is there. kComplete: headers
// and whole body are buffered. kError: an error answer is queued.
Parse HttpsServer::Worker::parse(Connection& c) {
  const HttpsServerOptions& options = shared_.options;
  if (!c.headers_parsed) {
    const std::string_view data = c.in.view();
    // Blank lines before a request line are allowed (RFC 9112 2.2).
    std::size_t lead = 0;
    while (lead < data.size() && (data[lead] == '\r' || data[lead] == '\n')) ++lead;
    if (lead > 0) {
      c.in.consume(lead);
      c.scanned = 0;
      return c.in.empty() ? Parse::kNeedMore : parse(c);
    }
    const std::size_t from = c.scanned >= 3 ? c.scanned - 3 : 0;
    const std::size_t end = data.find("\r\n\r\n", from);
    if (end == std::string_view::npos) {
      c.scanned = data.size();
      if (data.size() > options.max_header_bytes) {
        respond_error(c, 431, "request line and headers larger than 64 KiB");
        return Parse::kError;
      }
      return Parse::kNeedMore;
    }
    if (end + 4 > options.max_header_bytes) {
      respond_error(c, 431, "request line and headers larger than 64 KiB");
      return Parse::kError;
    }
    c.header_bytes = end + 4;
    const std::string_view head = data.substr(0, end);
    std::size_t line_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, line_end);
    // METHOD SP request-target SP HTTP/1.x
    const std::size_t sp1 = request_line.find(' ');
    const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
    if (sp1 == 0 || sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) {
      respond_error(c, 400, "malformed request line");
      return Parse::kError;
    }
    const std::string_view method = request_line.substr(0, sp1);
    for (char ch : method) {
      if (!is_token_char(ch)) {
        respond_error(c, 400, "malformed request method");
        return Parse::kError;
      }
    }
    const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = request_line.substr(sp2 + 1);
    if (version == "HTTP/1.1") {
      c.keep_alive = true;
    } else if (version == "HTTP/1.0") {
      c.keep_alive = false;
    } else if (version.substr(0, 5) == "HTTP/") {
      respond_error(c, 505, "only HTTP/1.0 and HTTP/1.1 are served");
      return Parse::kError;
    } else {
      respond_error(c, 400, "malformed request line");
      return Parse::kError;
    }
    if (target.empty() || target.front() != '/') {
      respond_error(c, 400, "the request target must be a path starting with /");
      return Parse::kError;
    }
    const std::size_t q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    c.method_at = 0;
    c.method_len = method.size();
    c.path_at = static_cast<std::size_t>(path.data() - data.data());
    c.path_len = path.size();
    c.query_at = query.empty() ? 0 : static_cast<std::size_t>(query.data() - data.data());
    c.query_len = query.size();
    c.head = method == "HEAD";

    bool have_length = false;
    bool connection_close = false, connection_keep_alive = false, expect_continue = false;
    while (line_end != std::string_view::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string_view line = head.substr(start, line_end == std::string_view::npos ? line_end : line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == 0 || colon == std::string_view::npos) {
        respond_error(c, 400, "malformed header line");
        return Parse::kError;
      }
      const std::string_view name = line.substr(0, colon);
      for (char ch : name) {
        if (!is_token_char(ch)) {
          respond_error(c, 400, "malformed header name");
          return Parse::kError;
        }
      }
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(name, "content-length")) {
        std::size_t length = 0;
        const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
        if (value.empty() || ec != std::errc() || p != value.data() + value.size() ||
            (have_length && length != c.content_length)) {
          if (ec == std::errc::result_out_of_range) {
            respond_error(c, 413, "request body larger than 3 MiB");
          } else {
            respond_error(c, 400, "invalid Content-Length");
          }
          return Parse::kError;
        }
        have_length = true;
        c.content_length = length;
      } else if (iequals(name, "transfer-encoding")) {
        if (!iequals(value, "chunked")) {
          respond_error(c, 501, "only the chunked transfer coding is supported");
          return Parse::kError;
        }
        c.chunked = true;
      } else if (iequals(name, "connection")) {
        connection_close = connection_close || has_token(value, "close");
        connection_keep_alive = connection_keep_alive || has_token(value, "keep-alive");
      } else if (iequals(name, "expect")) {
        expect_continue = iequals(value, "100-continue");
      }
    }
    if (c.chunked && have_length) {
      respond_error(c, 400, "both Content-Length and Transfer-Encoding are set");
      return Parse::kError;
    }
    if (connection_close) c.keep_alive = false;
    if (connection_keep_alive && version == "HTTP/1.0") c.keep_alive = true;
    if (!c.chunked && c.content_length > options.max_body_bytes) {
      respond_error(c, 413, "request body larger than 3 MiB");
      return Parse::kError;
    }
    c.headers_parsed = true;
    c.continue_sent = !expect_continue;
  }

  const std::string_view body = c.in.view().substr(c.header_bytes);
  Parse result = Parse::kNeedMore;
  if (!c.chunked) {
    if (body.size() >= c.content_length) {
      c.body_bytes_in_buffer = c.content_length;
      result = Parse::kComplete;
    }
  } else {
    // The buffered chunks are decoded from the start each time more arrive;
    // the cost is per chunk header, the data is skipped over.
    c.dechunked.clear();
    std::size_t pos = 0;
    while (true) {
      const std::size_t eol = body.find("\r\n", pos);
      if (eol == std::string_view::npos) {
        if (body.size() - pos > 1024) {
          respond_error(c, 400, "malformed chunked body");
          return Parse::kError;
        }
        break;
      }
      std::string_view size_text = body.substr(pos, eol - pos);
      size_text = size_text.substr(0, size_text.find(';'));  // chunk extensions
      size_text = trim(size_text);
      std::size_t size = 0;
      const auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
      if (size_text.empty() || p != size_text.data() + size_text.size()) {
        respond_error(c, 400, "malformed chunked body");
        return Parse::kError;
      }
      if (ec != std::errc() || size > options.max_body_bytes || c.dechunked.size() + size > options.max_body_bytes) {
        respond_error(c, 413, "request body larger than 3 MiB");
        return Parse::kError;
      }
      if (size == 0) {
        // Trailer fields, then a blank line.
        std::size_t t = eol + 2;
        bool done = false;
        while (true) {
          const std::size_t line_end = body.find("\r\n", t);
          if (line_end == std::string_view::npos) break;
          if (line_end == t) {
            c.body_bytes_in_buffer = line_end + 2;
            done = true;
            break;
          }
          t = line_end + 2;
        }
        if (done) result = Parse::kComplete;
        break;
      }
      if (body.size() < eol + 2 + size + 2) break;
      if (body.substr(eol + 2 + size, 2) != "\r\n") {
        respond_error(c, 400, "malformed chunked body");
        return Parse::kError;
      }
      c.dechunked.append(body.substr(eol + 2, size));
      pos = eol + 2 + size + 2;
    }
  }
  if (result == Parse::kNeedMore && !c.continue_sent) {
    c.continue_sent = true;
    c.out = "HTTP/1.1 100 Continue\r\n\r\n";
    c.out_pos = 0;
    c.interim = true;
    c.state = State::kWriting;
  }
  return result;
}

HttpsServer::HttpsServer(SSL_CTX* ctx, Handler handler, HttpsServerOptions options, ErrorSink errors)
    : shared_(std::make_unique<Shared>()) {
  SSL_CTX_up_ref(ctx);
  shared_->ctx = ctx;
  shared_->handler = std::move(handler);
  shared_->options = options;
  shared_->errors = std::move(errors);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
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

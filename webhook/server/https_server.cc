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
#include <condition_variable>
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
constexpr auto kDrainRequestTime = std::chrono::seconds(2);  // see arm()
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

// What a connection is doing, for its deadline and for eviction.
enum class State {
  kHandshake,  // TLS handshake (plain connections start in kReading)
  kReading,    // idle between requests, or reading one
  kHandling,   // its request is being handled off the event loop
  kWriting,    // writing an answer (or "100 Continue")
  kLingering,  // answered early and closing: reading and dropping what the client still sends
};

struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;  // nullptr: plain HTTP
  State state = State::kHandshake;
  std::string remote;
  Buffer in;
  std::string out;
  std::size_t out_pos = 0;
  Clock::time_point deadline;       // the nearest limit; the sweep acts on it
  Clock::time_point waiting_since;  // idle since, or since the handshake or the current request began
  Clock::time_point last_progress;  // bytes last moved
  Clock::time_point head_deadline;  // the request's headers must be complete by then
  Clock::time_point body_started;   // its headers were complete then
  std::size_t body_offset = 0;      // bytes of `in` before the body
  bool in_request = false;          // bytes of a request have arrived
  bool close_after_write = false;   // the answer being written is the last
  bool interim = false;             // the bytes being written are "100 Continue"
  bool tls_failed = false;          // no close_notify may be sent
  bool requeued = false;            // in the worker's list of turns to continue
  bool doomed = false;              // to be closed once its offloaded request returns
  bool offloaded = false;           // the answer being written was made off the loop
  int turn_requests = 0;            // requests answered in the current turn
  int drain_requests = 0;           // pipelined requests still answered while draining
  std::size_t lingered = 0;
  std::function<void()> after_send;  // of the answer being written

  HttpRequestParser parser;  // the request being read

  std::list<Connection>::iterator self;

  bool idle() const { return state == State::kReading && !in_request; }
};

// What one step of a connection's state machine left it in.
enum class Step { kContinue, kWait, kClosed };

}  // namespace

std::string_view to_string(TimeoutPhase phase) {
  switch (phase) {
    case TimeoutPhase::kHandshake: return "handshake";
    case TimeoutPhase::kHeader: return "header";
    case TimeoutPhase::kBody: return "body";
    case TimeoutPhase::kWrite: return "write";
    case TimeoutPhase::kCount: break;
  }
  return "other";
}

void HttpStats::count_error(int status, std::string_view reason) {
  constexpr std::size_t kMaxReasons = 64;
  std::lock_guard<std::mutex> lock(mutex_);
  std::pair<int, std::string> key{status, std::string(reason)};
  if (errors_.size() >= kMaxReasons && errors_.find(key) == errors_.end()) key.second = "other";
  ++errors_[key];
}

std::map<std::pair<int, std::string>, std::uint64_t> HttpStats::errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

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
  SSL_CTX* ctx = nullptr;  // nullptr: plain HTTP
  Handler handler;
  HttpsServerOptions options;
  ErrorSink errors;
  AfterOffload after_offload;
  std::atomic<int> listen_fd{-1};
  std::size_t per_worker_connections = 1;  // options.max_connections shared out
  std::atomic<bool> stopping{false};
  std::atomic<bool> listener_closed{false};  // by stop(): new connections are refused
  std::atomic<double> cut_after{15};
  std::atomic<std::size_t> listening_workers{0};  // the last to stop accepting closes the listener
  std::vector<Worker*> workers;
  std::atomic<std::size_t> next_worker{0};  // round-robin owner of the next connection
  std::unique_ptr<Offload> offload;
  HttpStats stats;
  // Closed by the server's destructor, before the workers go: a Responder
  // called after that delivers nothing.
  struct DeferGate {
    std::mutex mutex;
    bool open = true;
  };
  std::shared_ptr<DeferGate> defer_gate = std::make_shared<DeferGate>();

  void report(std::string_view event, std::string_view detail) const {
    if (errors) errors(event, detail);
  }

  // The handler's answer; an exception becomes a 500 and an
  // "internal_error" report naming the request. On a worker or the
  // background thread.
  HttpResponse answer(const HttpRequest& request) const {
    HttpResponse response;
    guard(std::string(request.method) + " " + std::string(request.path), response,
          [&](HttpResponse& r) { handler(request, r); });
    return response;
  }

  // Runs `fill` on `response`; an exception becomes a 500 answer and an
  // "internal_error" report naming `what`.
  template <typename Fill>
  void guard(const std::string& what, HttpResponse& response, Fill&& fill) const {
    std::optional<std::string> failure;
    try {
      fill(response);
    } catch (const std::exception& e) {
      failure = e.what();
    } catch (...) {
      failure = "unknown exception";
    }
    if (failure) {
      report("internal_error", what + ": " + *failure);
      response = HttpResponse{};
      response.status = 500;
      response.body = R"({"error":"internal error"})";
    }
  }
};

// Runs the handler for requests with large bodies on its own thread, one at
// a time: their cost (and memory) stays off the event loops, and bounded.
class HttpsServer::Offload {
 public:
  struct Job {
    Worker* worker;
    Connection* connection;
    HttpRequest request;
  };

  explicit Offload(Shared& shared) : shared_(shared), thread_([this] { loop(); }) {}
  ~Offload() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

  void submit(Job job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }

  // An offloaded request's memory was freed: give it back to the system.
  void request_trim() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      trim_ = true;
    }
    wake_.notify_one();
  }

 private:
  void loop();

  Shared& shared_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Job> jobs_;
  bool trim_ = false;
  bool stop_ = false;
  std::thread thread_;
};

class HttpsServer::Worker {
 public:
  explicit Worker(Shared& shared) : shared_(shared) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~Worker() {
    while (!connections_.empty()) close_connection(connections_.front(), true);
    for (Handover& h : take_inbox().handovers) refuse(h.fd);
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
      std::lock_guard<std::mutex> lock(inbox_mutex_);
      inbox_.handovers.push_back({fd, std::move(remote)});
    }
    wake();
  }

  // The answer to a request that was handled off the loop; `fill`, when
  // set, completes it on this worker's thread first.
  void hand_back(Connection* c, HttpResponse response, std::function<void(HttpResponse&)> fill = {},
                 bool from_offload = true) {
    {
      std::lock_guard<std::mutex> lock(inbox_mutex_);
      inbox_.answers.push_back({c, std::move(response), std::move(fill), from_offload});
    }
    wake();
  }

  // Handles an offloaded request on the background thread: its answer is
  // handed back unless the handler deferred it.
  void answer_off_loop(Connection* c, HttpRequest request);

 private:
  struct Handover {
    int fd;
    std::string remote;
  };
  struct Answer {
    Connection* connection;
    HttpResponse response;
    std::function<void(HttpResponse&)> fill;  // run on the worker, before sending
    bool from_offload = true;                 // memory is given back after it is sent
  };
  struct Inbox {
    std::vector<Handover> handovers;
    std::vector<Answer> answers;
  };
  Inbox take_inbox() {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    return std::exchange(inbox_, {});
  }
  bool inbox_empty() {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    return inbox_.handovers.empty() && inbox_.answers.empty();
  }
  void refuse(int fd) {
    ::close(fd);
    shared_.stats.refused.fetch_add(1, std::memory_order_relaxed);
  }

  static inline char listener_tag_ = 0;
  static inline char wake_tag_ = 0;

  void handle_events(const epoll_event* events, int n);
  void take_deliveries();
  void accept_all();
  void adopt(int fd, std::string remote);
  bool make_room();
  void drive(Connection& c);
  Step handshake(Connection& c);
  Step read_request(Connection& c);
  Step write_answer(Connection& c);
  Step linger(Connection& c);
  void dispatch(Connection& c);
  HttpRequest request_of(Connection& c);
  void finish_offloaded(Connection& c, HttpResponse& response, bool from_offload);
  void respond_error(Connection& c, int status, std::string_view message, std::string_view reason);
  void begin_write(Connection& c, HttpResponse& response, bool close);
  bool next_request_buffered(const Connection& c) const;
  void run_after_send(Connection& c);
  void finish_request(Connection& c);
  void close_connection(Connection& c, bool force = false);
  void begin_linger(Connection& c);
  void arm(Connection& c);
  void sweep();
  void time_out(Connection& c);
  void start_draining();
  void watch_listener();
  void pause_accepting(int error);
  void resume_accepting();
  bool read_some(Connection& c, bool& progressed);
  // Seconds a client may send nothing mid-request: a second while draining.
  double stall_limit() const {
    return draining_ ? std::min(shared_.options.read_timeout, 1.0) : shared_.options.read_timeout;
  }

  Shared& shared_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool draining_ = false;
  bool watching_listener_ = false;
  Clock::time_point cut_at_ = Clock::time_point::max();  // while draining: close whatever is left then
  Clock::time_point drain_started_;
  // Set while this worker has stopped accepting because the process ran out
  // of file descriptors (or memory): the listening socket stays readable, so
  // accepting on would spin; it is watched again after kAcceptPause.
  std::optional<Clock::time_point> accept_paused_until_;
  std::list<Connection> connections_;
  Clock::time_point now_ = Clock::now();
  std::mutex inbox_mutex_;
  Inbox inbox_;
  std::vector<Connection*> requeued_;  // connections whose turn was cut short
};

void HttpsServer::Offload::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stop_ || trim_ || !jobs_.empty(); });
    if (!jobs_.empty()) {
      std::vector<Job> jobs = std::exchange(jobs_, {});
      lock.unlock();
      for (Job& job : jobs) job.worker->answer_off_loop(job.connection, job.request);
      lock.lock();
      continue;
    }
    if (trim_) {
      trim_ = false;
      lock.unlock();
      if (shared_.after_offload) shared_.after_offload();
      lock.lock();
      continue;
    }
    if (stop_) return;
  }
}

void HttpsServer::Worker::watch_listener() {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one worker woken per new connection
  ev.data.ptr = &listener_tag_;
  watching_listener_ = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, shared_.listen_fd, &ev) == 0;
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
    if (draining_ && connections_.empty() && inbox_empty()) break;
    const int wait_ms = requeued_.empty() ? static_cast<int>(kSweepInterval.count()) : 0;
    const int n = epoll_wait(epoll_fd_, events, 64, wait_ms);
    now_ = Clock::now();
    handle_events(events, n);
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
      sweep();
      next_sweep = now_ + kSweepInterval;
      if (accept_paused_until_ && now_ >= *accept_paused_until_) resume_accepting();
    }
  }
}

void HttpsServer::Worker::handle_events(const epoll_event* events, int n) {
  for (int i = 0; i < n; ++i) {
    void* tag = events[i].data.ptr;
    if (tag == &listener_tag_) {
      if (!draining_) accept_all();
    } else if (tag == &wake_tag_) {
      std::uint64_t value;
      [[maybe_unused]] const ssize_t r = ::read(wake_fd_, &value, sizeof value);
      take_deliveries();
    } else {
      drive(*static_cast<Connection*>(tag));
    }
  }
}

// Connections other workers accepted for this one (served even while
// draining: they were accepted before the listener closed), and answers
// made off the loop.
void HttpsServer::Worker::take_deliveries() {
  Inbox inbox = take_inbox();
  for (Handover& h : inbox.handovers) adopt(h.fd, std::move(h.remote));
  for (Answer& a : inbox.answers) {
    if (a.fill) shared_.guard("a deferred answer", a.response, a.fill);
    finish_offloaded(*a.connection, a.response, a.from_offload);
  }
}

void HttpsServer::Worker::start_draining() {
  draining_ = true;
  drain_started_ = now_;
  cut_at_ = now_ + seconds(shared_.cut_after.load());
  if (watching_listener_) {
    accept_all();  // what has queued on the listener is served, not reset
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, shared_.listen_fd, nullptr);
    watching_listener_ = false;
  }
  if (shared_.listening_workers.fetch_sub(1) == 1) {
    // No worker accepts any more: the last takes what queued meanwhile, and
    // connections that arrive after are refused by the kernel instead of
    // queuing for nobody (and being reset at exit).
    accept_all();
    close_fd(shared_.listen_fd.exchange(-1));
    shared_.listener_closed.store(true, std::memory_order_release);
  }
  take_deliveries();
  for (Connection& c : connections_) {
    c.drain_requests = kRequestsPerTurn;
    arm(c);
  }
}

void HttpsServer::Worker::pause_accepting(int error) {
  if (accept_paused_until_) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, shared_.listen_fd, nullptr);
  watching_listener_ = false;
  accept_paused_until_ = now_ + kAcceptPause;
  shared_.report("accept_paused", std::string("cannot accept connections: ") + std::strerror(error) +
                                      "; accepting again in 250 ms");
}

void HttpsServer::Worker::resume_accepting() {
  accept_paused_until_.reset();
  if (!draining_) watch_listener();
}

void HttpsServer::Worker::accept_all() {
  while (true) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = accept4(shared_.listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) pause_accepting(errno);
      return;  // EAGAIN: another worker took it, or none left
    }
    shared_.stats.accepted.fetch_add(1, std::memory_order_relaxed);
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

// At the connection limit, closes the connection that has waited the
// longest (idle, handshaking, or in a request that has not arrived whole)
// so that a newcomer gets in: a flood of idle or trickling connections
// costs its oldest members their slots, not the API server its reviews.
// False when every connection is busy having its request handled.
bool HttpsServer::Worker::make_room() {
  if (connections_.size() < shared_.per_worker_connections) return true;
  Connection* victim = nullptr;
  for (Connection& c : connections_) {
    if (c.state == State::kHandling) continue;
    if (c.state == State::kLingering) {  // closing anyway
      victim = &c;
      break;
    }
    if (victim == nullptr || c.waiting_since < victim->waiting_since) victim = &c;
  }
  if (victim == nullptr) return false;
  shared_.stats.evicted.fetch_add(1, std::memory_order_relaxed);
  close_connection(*victim);
  return true;
}

void HttpsServer::Worker::adopt(int fd, std::string remote) {
  if (!make_room()) {
    shared_.report("connection_refused", "--max-connections reached and every connection is being answered");
    refuse(fd);
    return;
  }
  Connection& c = connections_.emplace_back();
  c.self = std::prev(connections_.end());
  c.fd = fd;
  shared_.stats.open.fetch_add(1, std::memory_order_relaxed);
  c.remote = std::move(remote);
  c.parser = HttpRequestParser({shared_.options.max_header_bytes, shared_.options.max_body_bytes});
  c.waiting_since = c.last_progress = now_;
  c.head_deadline = now_ + seconds(shared_.options.header_timeout);
  c.drain_requests = kRequestsPerTurn;
  if (shared_.ctx == nullptr) {
    c.state = State::kReading;
  } else {
    c.ssl = SSL_new(shared_.ctx);
    if (c.ssl == nullptr || SSL_set_fd(c.ssl, fd) != 1) {
      ERR_clear_error();
      c.tls_failed = true;
      close_connection(c);
      return;
    }
    SSL_set_accept_state(c.ssl);
  }
  arm(c);
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

// Sets the connection's deadline from what it is doing.
void HttpsServer::Worker::arm(Connection& c) {
  const HttpsServerOptions& o = shared_.options;
  switch (c.state) {
    case State::kHandshake:
      c.deadline = c.head_deadline;  // the handshake counts against the first request's header time
      break;
    case State::kReading:
      if (!c.in_request) {
        // While draining, a connection idle for a second is closed: a
        // client about to send on it has had its chance, and one that is
        // sending gets an answer with Connection: close instead.
        const double idle = draining_ ? std::min(o.keep_alive_timeout, 1.0) : o.keep_alive_timeout;
        c.deadline = c.waiting_since + seconds(idle);
      } else if (!c.parser.headers_done()) {
        c.deadline = std::min(c.head_deadline, c.last_progress + seconds(stall_limit()));
      } else {
        const double body_bytes = static_cast<double>(c.in.size() - std::min(c.in.size(), c.body_offset));
        const Clock::time_point rate_deadline =
            c.body_started + seconds(o.header_timeout + (o.min_body_rate > 0 ? body_bytes / o.min_body_rate : 1e9));
        c.deadline = std::min(rate_deadline, c.last_progress + seconds(stall_limit()));
      }
      break;
    case State::kHandling:
      c.deadline = Clock::time_point::max();
      break;
    case State::kWriting:
      c.deadline = c.last_progress + seconds(o.write_timeout);
      break;
    case State::kLingering:
      break;  // set by begin_linger
  }
  if (draining_ && c.state == State::kReading && c.in_request) {
    // A request begun before the stop, or pipelined after it, has a couple
    // of seconds to arrive whole: the API server sends a review at once,
    // and a client trickling bytes must not hold the shutdown.
    c.deadline = std::min(c.deadline, std::max(drain_started_, c.waiting_since) + kDrainRequestTime);
  }
  if (draining_ && c.state != State::kHandling) c.deadline = std::min(c.deadline, cut_at_);
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
  if (std::exchange(c.offloaded, false) && shared_.offload) shared_.offload->request_trim();
}

// A connection whose request is being handled off the loop is only marked,
// and closed when the answer comes back (the handler reads its buffer);
// `force` is for the destructor, when no handler runs any more.
void HttpsServer::Worker::close_connection(Connection& c, bool force) {
  if (c.state == State::kHandling && !force) {
    c.doomed = true;
    return;
  }
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
    shared_.stats.open.fetch_sub(1, std::memory_order_relaxed);
  }
  connections_.erase(c.self);
}

// After an answer sent before the request was read to its end (413, 431,
// 400), closing with unread bytes would reset the connection and could
// destroy the answer in flight; so the write side is shut and whatever the
// client still sends is read and dropped, for a second at most.
void HttpsServer::Worker::begin_linger(Connection& c) {
  if (c.ssl != nullptr) {
    ERR_clear_error();
    SSL_shutdown(c.ssl);
    ERR_clear_error();
  }
  ::shutdown(c.fd, SHUT_WR);
  c.state = State::kLingering;
  c.deadline = now_ + kLingerTime;
  c.lingered = 0;
}

void HttpsServer::Worker::sweep() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& c = *it++;
    if (now_ >= c.deadline) time_out(c);
  }
}

void HttpsServer::Worker::time_out(Connection& c) {
  HttpStats& stats = shared_.stats;
  const auto count = [&stats](TimeoutPhase p) {
    stats.timeouts[static_cast<std::size_t>(p)].fetch_add(1, std::memory_order_relaxed);
  };
  if (draining_ && now_ >= cut_at_) {
    close_connection(c);
    return;
  }
  switch (c.state) {
    case State::kHandshake:
      count(TimeoutPhase::kHandshake);
      break;
    case State::kReading:
      if (!c.in_request) break;  // idle: closed quietly
      if (!c.parser.headers_done()) {
        count(TimeoutPhase::kHeader);
        respond_error(c, 408,
                      draining_                 ? "the request did not arrive whole before the server shut down"
                      : now_ >= c.head_deadline ? "the request's headers did not arrive within the header timeout"
                                                : "the request stalled for longer than the read timeout",
                      "timeout");
      } else {
        count(TimeoutPhase::kBody);
        respond_error(c, 408,
                      draining_ ? "the request did not arrive whole before the server shut down"
                      : now_ >= c.last_progress + seconds(stall_limit())
                          ? "the request stalled for longer than the read timeout"
                          : "the request body arrived more slowly than the minimum body rate",
                      "timeout");
      }
      drive(c);
      return;
    case State::kWriting:
      count(TimeoutPhase::kWrite);
      break;
    case State::kHandling:
      return;
    case State::kLingering:
      break;
  }
  close_connection(c);
}

bool HttpsServer::Worker::read_some(Connection& c, bool& progressed) {
  progressed = false;
  char* dst = c.in.prepare(kReadChunk);
  if (c.ssl == nullptr) {
    const ssize_t n = ::recv(c.fd, dst, kReadChunk, 0);
    if (n > 0) {
      c.in.commit(static_cast<std::size_t>(n));
      progressed = true;
      return true;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
  }
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
    Step step = Step::kWait;
    switch (c.state) {
      case State::kHandshake: step = handshake(c); break;
      case State::kReading: step = read_request(c); break;
      case State::kHandling: return;  // the background thread has the request
      case State::kWriting: step = write_answer(c); break;
      case State::kLingering: step = linger(c); break;
    }
    if (step != Step::kContinue) return;
  }
}

Step HttpsServer::Worker::handshake(Connection& c) {
  ERR_clear_error();
  const int r = SSL_accept(c.ssl);
  if (r == 1) {
    c.state = State::kReading;
    c.waiting_since = now_;
    arm(c);
    return Step::kContinue;
  }
  const int err = SSL_get_error(c.ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Step::kWait;
  c.tls_failed = true;  // not TLS, a certificate refused, ...
  shared_.stats.tls_failed.fetch_add(1, std::memory_order_relaxed);
  close_connection(c);
  return Step::kClosed;
}

Step HttpsServer::Worker::read_request(Connection& c) {
  if (!c.in.empty()) {
    if (!c.in_request) {  // the first bytes of a request: its header time starts
      c.in_request = true;
      c.waiting_since = now_;
      c.head_deadline = now_ + seconds(shared_.options.header_timeout);
    }
    const bool had_headers = c.parser.headers_done();
    const HttpRequestParser::Status status = c.parser.parse(c.in.view());
    if (status == HttpRequestParser::Status::kComplete) {
      if (++c.turn_requests > kRequestsPerTurn) {
        if (!c.requeued) {
          c.requeued = true;
          requeued_.push_back(&c);
        }
        return Step::kWait;
      }
      dispatch(c);
      return Step::kContinue;
    }
    if (status == HttpRequestParser::Status::kError) {
      respond_error(c, c.parser.error_status(), c.parser.error_message(), c.parser.error_reason());
      return Step::kContinue;
    }
    if (!had_headers && c.parser.headers_done()) {
      c.body_started = now_;
      c.body_offset = c.parser.body_offset();
    }
    if (c.parser.take_continue()) {
      c.out = "HTTP/1.1 100 Continue\r\n\r\n";
      c.out_pos = 0;
      c.interim = true;
      c.state = State::kWriting;
      c.last_progress = now_;
      arm(c);
      return Step::kContinue;
    }
  }
  bool progressed = false;
  if (!read_some(c, progressed)) {
    close_connection(c);
    return Step::kClosed;
  }
  if (!progressed) {
    arm(c);
    return Step::kWait;
  }
  c.last_progress = now_;
  return Step::kContinue;
}

Step HttpsServer::Worker::write_answer(Connection& c) {
  while (c.out_pos < c.out.size()) {
    const char* data = c.out.data() + c.out_pos;
    const std::size_t size = c.out.size() - c.out_pos;
    if (c.ssl == nullptr) {
      const ssize_t n = ::send(c.fd, data, size, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_pos += static_cast<std::size_t>(n);
        c.last_progress = now_;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        arm(c);
        return Step::kWait;
      }
    } else {
      ERR_clear_error();
      const int r = SSL_write(c.ssl, data, static_cast<int>(size));
      if (r > 0) {
        c.out_pos += static_cast<std::size_t>(r);
        c.last_progress = now_;
        continue;
      }
      const int err = SSL_get_error(c.ssl, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        arm(c);
        return Step::kWait;
      }
      c.tls_failed = true;
    }
    close_connection(c);
    return Step::kClosed;
  }
  run_after_send(c);
  if (c.interim) {  // "100 Continue" sent; back to reading the body
    c.interim = false;
    c.out.clear();
    c.out_pos = 0;
    c.state = State::kReading;
    c.last_progress = now_;
    arm(c);
    return Step::kContinue;
  }
  if (c.close_after_write) {
    begin_linger(c);
    return Step::kContinue;
  }
  finish_request(c);
  return Step::kContinue;
}

Step HttpsServer::Worker::linger(Connection& c) {
  char sink[16384];
  while (true) {
    const ssize_t n = ::recv(c.fd, sink, sizeof sink, 0);
    if (n > 0) {
      c.lingered += static_cast<std::size_t>(n);
      if (c.lingered > kLingerBytes) break;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Step::kWait;
    if (n < 0 && errno == EINTR) continue;
    break;  // EOF or error
  }
  close_connection(c);
  return Step::kClosed;
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
  c.in_request = false;
  c.waiting_since = now_;
  arm(c);
}

void HttpsServer::Worker::respond_error(Connection& c, int status, std::string_view message, std::string_view reason) {
  HttpResponse response;
  response.status = status;
  response.error_reason = reason;
  response.body.reserve(message.size() + 16);
  response.body += "{\"error\":\"";
  for (char ch : message) {  // the messages are ours; only quotes need care
    if (ch == '"' || ch == '\\') response.body += '\\';
    response.body += ch;
  }
  response.body += "\"}";
  begin_write(c, response, true);
}

// While draining, requests already pipelined behind this one are answered
// too (at most a turn's worth), and the last answer says Connection: close.
bool HttpsServer::Worker::next_request_buffered(const Connection& c) const {
  const std::string_view rest = c.in.view().substr(std::min(c.in.size(), c.parser.consumed()));
  if (rest.empty()) return false;
  HttpRequestParser next({shared_.options.max_header_bytes, shared_.options.max_body_bytes});
  return next.parse(rest) == HttpRequestParser::Status::kComplete;
}

void HttpsServer::Worker::begin_write(Connection& c, HttpResponse& response, bool close) {
  // Once the listener is closed, answers say Connection: close (a client
  // that reconnects is refused and tries another endpoint). Not before: it
  // would reconnect here, and a connection queued as the listener closes is
  // reset.
  if (shared_.listener_closed.load(std::memory_order_acquire) && !close) {
    close = --c.drain_requests <= 0 || !next_request_buffered(c);
  }
  close = close || !c.parser.keep_alive();
  c.close_after_write = close;
  if (response.status >= 400 && response.status < 500) shared_.stats.count_error(response.status, response.error_reason);
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
  c.last_progress = now_;
  arm(c);
}

HttpRequest HttpsServer::Worker::request_of(Connection& c) {
  HttpRequest request;
  const std::string_view data = c.in.view();
  request.method = c.parser.method(data);
  request.path = c.parser.path(data);
  request.query = c.parser.query(data);
  request.body = c.parser.body(data);
  request.remote_addr = &c.remote;
  return request;
}

// The Responder of one deferred request: hands the answer back to the
// connection's worker, unless the server is gone.
class HttpsServer::DeferredAnswer final : public Responder {
 public:
  DeferredAnswer(std::shared_ptr<Shared::DeferGate> gate, Worker* worker, Connection* c)
      : gate_(std::move(gate)), worker_(worker), connection_(c) {}
  ~DeferredAnswer() override {
    send([](HttpResponse& r) {
      r.status = 500;
      r.body = R"({"error":"internal error: the request was never answered"})";
    });
  }
  void send(std::function<void(HttpResponse&)> fill) override {
    if (sent_.exchange(true)) return;
    std::lock_guard<std::mutex> lock(gate_->mutex);
    if (gate_->open) worker_->hand_back(connection_, HttpResponse{}, std::move(fill), false);
  }

 private:
  std::shared_ptr<Shared::DeferGate> gate_;
  Worker* worker_;
  Connection* connection_;
  std::atomic<bool> sent_{false};
};

// What a handler's request.context is: remembers whether it deferred.
class HttpsServer::DeferContext final : public RequestContext {
 public:
  DeferContext(const std::shared_ptr<Shared::DeferGate>& gate, Worker* worker, Connection* c)
      : gate_(gate), worker_(worker), connection_(c) {}
  std::shared_ptr<Responder> defer() override {
    deferred = true;
    return std::make_shared<DeferredAnswer>(gate_, worker_, connection_);
  }
  bool deferred = false;

 private:
  const std::shared_ptr<Shared::DeferGate>& gate_;
  Worker* worker_;
  Connection* connection_;
};

void HttpsServer::Worker::answer_off_loop(Connection* c, HttpRequest request) {
  DeferContext context(shared_.defer_gate, this, c);
  request.context = &context;
  HttpResponse response = shared_.answer(request);
  if (!context.deferred) hand_back(c, std::move(response));
}

void HttpsServer::Worker::dispatch(Connection& c) {
  HttpRequest request = request_of(c);
  const std::size_t offload_at = shared_.options.offload_body_bytes;
  if (offload_at > 0 && request.body.size() >= offload_at && shared_.offload) {
    // The connection's buffer stays as it is until the answer comes back:
    // nothing is read from it meanwhile.
    c.state = State::kHandling;
    arm(c);
    shared_.stats.offloaded.fetch_add(1, std::memory_order_relaxed);
    shared_.offload->submit({this, &c, request});
    return;
  }
  DeferContext context(shared_.defer_gate, this, &c);
  request.context = &context;
  HttpResponse response = shared_.answer(request);
  if (context.deferred) {
    // Held like an offloaded request (nothing read, never evicted) until
    // the Responder hands the answer back.
    c.state = State::kHandling;
    arm(c);
    shared_.stats.deferred.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  begin_write(c, response, false);
}

void HttpsServer::Worker::finish_offloaded(Connection& c, HttpResponse& response, bool from_offload) {
  c.state = State::kReading;  // no longer handled elsewhere
  c.offloaded = from_offload;
  if (c.doomed) {
    c.after_send = std::move(response.after_send);
    close_connection(c);
    return;
  }
  begin_write(c, response, false);
  drive(c);
}

HttpsServer::HttpsServer(SSL_CTX* ctx, Handler handler, HttpsServerOptions options, ErrorSink errors,
                         AfterOffload after_offload)
    : shared_(std::make_unique<Shared>()) {
  if (ctx != nullptr) {
    SSL_CTX_up_ref(ctx);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Without read-ahead OpenSSL reads each TLS record with two read(2)
    // calls, its 5-byte header and then its body; with it, one call takes
    // what is there. (The worker reads until OpenSSL wants more, so bytes it
    // buffered ahead are never left waiting for an epoll event.)
    SSL_CTX_set_read_ahead(ctx, 1);
  }
  shared_->ctx = ctx;
  shared_->handler = std::move(handler);
  shared_->options = options;
  shared_->errors = std::move(errors);
  shared_->after_offload = std::move(after_offload);
  const std::size_t n = options.workers > 0 ? options.workers : default_worker_count();
  shared_->per_worker_connections = std::max<std::size_t>(1, (options.max_connections + n - 1) / n);
  for (std::size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(*shared_));
    shared_->workers.push_back(workers_.back().get());
  }
  if (options.offload_body_bytes > 0) shared_->offload = std::make_unique<Offload>(*shared_);
}

HttpsServer::~HttpsServer() {
  shared_->offload.reset();  // no handler runs any more
  {
    std::lock_guard<std::mutex> lock(shared_->defer_gate->mutex);
    shared_->defer_gate->open = false;  // late Responders deliver nothing
  }
  workers_.clear();
  close_fd(shared_->listen_fd.exchange(-1));
  if (shared_->ctx != nullptr) SSL_CTX_free(shared_->ctx);
}

std::size_t HttpsServer::worker_count() const { return workers_.size(); }

const HttpStats& HttpsServer::stats() const { return shared_->stats; }

Result<int> HttpsServer::bind(const std::string& host, int port) {
  for (const auto& w : workers_) {
    if (!w->ready()) {
      return Status::io_error(std::string("cannot create an event loop: ") + std::strerror(errno));
    }
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Status::not_found("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> guard(found, freeaddrinfo);
  Status failed = Status::not_found("no address for " + host);
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, shared_->options.backlog) != 0) {
      failed = Status::io_error(std::strerror(errno));
      ::close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    close_fd(shared_->listen_fd);
    shared_->listen_fd = fd;
    if (bound.ss_family == AF_INET6) return static_cast<int>(ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port));
    return static_cast<int>(ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port));
  }
  return failed;
}

void HttpsServer::run() {
  shared_->listening_workers = workers_.size();
  std::vector<std::thread> threads;
  threads.reserve(workers_.size());
  for (std::size_t i = 1; i < workers_.size(); ++i) threads.emplace_back([w = workers_[i].get()] { w->run(); });
  workers_[0]->run();
  for (std::thread& t : threads) t.join();
}

void HttpsServer::stop(double cut_after) {
  // From now on the kernel queues at most one more connection while the
  // workers take what has queued: a client that connects in that moment
  // has its SYN go unanswered and its retry refused, instead of being
  // accepted by the kernel and reset when the listener closes.
  if (const int fd = shared_->listen_fd.load(); fd >= 0) ::listen(fd, 0);
  shared_->cut_after.store(cut_after);
  shared_->stopping.store(true, std::memory_order_release);
  for (const auto& w : workers_) w->wake();
  // Each worker accepts what has queued and stops watching the listener,
  // and the last one closes it. A worker busy in a handler for longer than
  // this does not keep the listener open: it stops listening here (queued
  // connections are reset, new ones refused).
  for (int i = 0; i < 40 && shared_->listening_workers.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int fd = shared_->listen_fd.load();
  if (shared_->listening_workers.load() > 0 && fd >= 0) {
    ::shutdown(fd, SHUT_RDWR);
    shared_->listener_closed.store(true, std::memory_order_release);
  }
}

}  // namespace podguard::server

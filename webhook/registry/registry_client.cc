#include "registry/registry_client.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "registry/auth_challenge.h"
#include "registry/blob_digest.h"
#include "registry/deadline_timer.h"
#include "registry/docker_credentials.h"

#ifndef PODGUARD_VERSION
#define PODGUARD_VERSION "unknown"
#endif

namespace podguard::registry {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kMaxRedirects = 5;
constexpr int kMax429Retries = 3;
constexpr std::size_t kMaxErrorBodyBytes = 64 << 10;
constexpr std::size_t kMaxTokenBytes = 1 << 20;
constexpr std::size_t kMaxIdleConnectionsPerOrigin = 4;
constexpr std::size_t kMaxIdleConnections = 64;
constexpr std::size_t kMaxCachedTokens = 4096;
constexpr auto kTokenMargin = std::chrono::seconds(5);

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

double seconds_left(Deadline deadline) { return std::chrono::duration<double>(deadline - Clock::now()).count(); }

std::string format_seconds(double s) {
  std::ostringstream out;
  out.precision(s < 10 ? 2 : 3);
  out << s;
  return out.str() + " s";
}

// An absolute http(s) URL, split the way requests need it.
struct Url {
  bool https = true;
  std::string host;    // host[:port], lowercase, default port left out
  std::string target;  // path and query, starting with '/'

  [[nodiscard]] std::string origin() const { return (https ? "https://" : "http://") + host; }
  // For messages and logs: signed storage URLs carry credentials in the query.
  [[nodiscard]] std::string without_query() const { return origin() + target.substr(0, target.find('?')); }
};

std::optional<Url> parse_url(std::string_view s) {
  Url u;
  if (s.substr(0, 8) == "https://") {
    s.remove_prefix(8);
  } else if (s.substr(0, 7) == "http://") {
    u.https = false;
    s.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const auto end = s.find_first_of("/?#");
  u.host = lowercase(s.substr(0, end));
  if (u.host.empty() || u.host.find('@') != std::string::npos) return std::nullopt;  // no userinfo
  for (char c : u.host) {
    if (std::iscntrl(static_cast<unsigned char>(c)) || c == ' ') return std::nullopt;
  }
  const std::string_view default_port = u.https ? ":443" : ":80";
  if (u.host.size() > default_port.size() &&
      std::string_view(u.host).substr(u.host.size() - default_port.size()) == default_port) {
    u.host.resize(u.host.size() - default_port.size());
  }
  std::string_view rest = end == std::string_view::npos ? std::string_view() : s.substr(end);
  rest = rest.substr(0, rest.find('#'));
  u.target = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  return u;
}

// RFC 3986 §5.2.4 on the path of `target` ("/a/b/../c?q" -> "/a/c?q").
std::string without_dot_segments(const std::string& target) {
  const auto query = target.find('?');
  const std::string path = target.substr(0, query);
  std::vector<std::string> segments;
  std::size_t start = 1;  // after the leading '/'
  while (start <= path.size()) {
    const auto slash = std::min(path.find('/', start), path.size());
    const std::string segment = path.substr(start, slash - start);
    const bool last = slash == path.size();
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      if (last) segments.emplace_back();  // "/a/.." is "/"
    } else if (segment == ".") {
      if (last) segments.emplace_back();
    } else {
      segments.push_back(segment);
    }
    start = slash + 1;
  }
  std::string out;
  for (const std::string& segment : segments) out += "/" + segment;
  if (out.empty()) out = "/";
  return out + (query == std::string::npos ? "" : target.substr(query));
}

// A Location header against the URL it answered (RFC 3986 §5.2, the forms
// servers send). Nothing that could split the request line gets through.
std::optional<Url> resolve_location(const Url& base, std::string_view location) {
  if (location.empty()) return std::nullopt;
  for (char c : location) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return std::nullopt;
  }
  if (location.substr(0, 7) == "http://" || location.substr(0, 8) == "https://") return parse_url(location);
  if (location.substr(0, 2) == "//") return parse_url((base.https ? "https:" : "http:") + std::string(location));
  Url u = base;
  if (location.front() == '/') {
    u.target = location;
  } else {
    const std::string path = base.target.substr(0, base.target.find('?'));
    u.target = path.substr(0, path.rfind('/') + 1) + std::string(location);
  }
  u.target = without_dot_segments(u.target);
  return u;
}

std::string base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Text from a remote server, made safe to put in a message: printable
// ASCII only, and short.
std::string printable(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

// The first of the distribution API's errors in a body:
// {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}.
std::string registry_error(std::string_view body) {
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object()) return "";
  const auto errors = doc.find("errors");
  if (errors == doc.end() || !errors->is_array() || errors->empty() || !errors->front().is_object()) return "";
  const json& e = errors->front();
  std::string out;
  if (const auto code = e.find("code"); code != e.end() && code->is_string())
    out = printable(code->get<std::string>(), 60);
  if (const auto msg = e.find("message"); msg != e.end() && msg->is_string()) {
    out += (out.empty() ? "" : ": ") + printable(msg->get<std::string>());
  }
  return out;
}

// `text` with every occurrence of each secret replaced.
std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& secret : secrets) {
    if (secret.size() < 4) continue;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "<redacted>");
    }
  }
  return text;
}

// Retry-After: delay-seconds or an HTTP-date. Absent or unreadable: 1 s.
std::chrono::milliseconds retry_after(const std::string& v) {
  if (v.empty()) return std::chrono::seconds(1);
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::chrono::seconds(v.size() > 9 ? 999999999 : std::stoll(v));
  }
  std::tm tm{};
  std::istringstream in(v);
  in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S");
  if (in.fail()) return std::chrono::seconds(1);
  const std::time_t when = timegm(&tm);
  const std::time_t now = std::time(nullptr);
  return std::chrono::seconds(when > now ? when - now : 0);
}

std::string transport_error(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "could not be connected to";
    case httplib::Error::ConnectionTimeout:
      return "did not accept the connection in time";
    case httplib::Error::SSLConnection:
      return "failed the TLS handshake";
    case httplib::Error::SSLServerVerification:
      return "sent a certificate that is not trusted for its name (add its CA with caFile)";
    case httplib::Error::SSLLoadingCerts:
      return "could not be checked: the CA certificates could not be loaded";
    case httplib::Error::Read:
      return "closed the connection or stopped answering";
    case httplib::Error::Write:
      return "closed the connection while the request was sent";
    default:
      return "failed: " + httplib::to_string(e);
  }
}

// Where the requests for one registry go.
struct Endpoint {
  std::string registry;  // as references name it: docker.io, ghcr.io, localhost:5000
  std::string host;      // host[:port] spoken to: registry-1.docker.io, a mirror
  std::string prefix;    // a mirror's path prefix, "" or ending in '/'
  bool https = true;

  [[nodiscard]] std::string origin() const { return (https ? "https://" : "http://") + host; }
  [[nodiscard]] std::string describe() const {
    const std::string api_host = registry == "docker.io" ? "registry-1.docker.io" : registry;
    return host == api_host ? registry : host + " (mirror of " + registry + ")";
  }
};

struct Reply {
  int status = 0;
  httplib::Headers headers;
  std::string body;
  // What the request carried that must never be shown: a server may echo
  // it in an error message.
  std::vector<std::string> secrets;

  [[nodiscard]] std::string header(const char* name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A bearer or basic Authorization value, and until when it may be used.
struct Token {
  std::string authorization;
  Clock::time_point expires;
};

}  // namespace

struct RegistryClient::Impl {
  RegistryOptions options;
  DockerCredentials credentials;
  std::set<std::string> insecure;           // host[:port], lowercase
  std::map<std::string, Endpoint> mirrors;  // registry -> endpoint of its mirror
  X509_STORE* ca_store = nullptr;           // system CAs plus ca_file; null without ca_file
  DeadlineTimer watchdog;                   // cuts off requests at their deadline

  std::mutex mutex;  // everything below
  std::condition_variable shutdown_signal;
  bool shutting_down = false;
  std::map<std::string, std::vector<std::unique_ptr<httplib::Client>>> idle;  // by origin
  std::size_t idle_count = 0;
  std::map<std::string, Token> tokens;              // host + " " + scope
  std::map<std::string, AuthChallenge> challenges;  // host -> its last challenge

  ~Impl() {
    if (ca_store != nullptr) X509_STORE_free(ca_store);
  }

  Endpoint endpoint(std::string_view registry) const {
    Endpoint ep;
    ep.registry = registry;
    if (const auto m = mirrors.find(ep.registry); m != mirrors.end()) {
      ep.host = m->second.host;
      ep.prefix = m->second.prefix;
    } else {
      ep.host = ep.registry == "docker.io" ? "registry-1.docker.io" : lowercase(registry);
    }
    ep.https = insecure.count(ep.host) == 0;
    return ep;
  }

  void log(const std::string& line) const {
    if (options.log) options.log(line);
  }

  // --- connections --------------------------------------------------------

  std::unique_ptr<httplib::Client> acquire(const Url& url) {
    {
      std::lock_guard lock(mutex);
      auto it = idle.find(url.origin());
      if (it != idle.end() && !it->second.empty()) {
        auto client = std::move(it->second.back());
        it->second.pop_back();
        --idle_count;
        return client;
      }
    }
    auto client = std::make_unique<httplib::Client>(url.origin());
    client->set_keep_alive(true);
    client->set_follow_location(false);
    client->set_tcp_nodelay(true);
    if (url.https) {
      client->enable_server_certificate_verification(true);
      if (ca_store != nullptr) {
        // The client's SSL_CTX takes a reference; load_certs then adds only
        // the (small) ca_file to the shared store, which holds it already.
        X509_STORE_up_ref(ca_store);
        client->set_ca_cert_store(ca_store);
        client->set_ca_cert_path(options.ca_file);
      }
    }
    return client;
  }

  void release(const Url& url, std::unique_ptr<httplib::Client> client) {
    std::lock_guard lock(mutex);
    auto& list = idle[url.origin()];
    if (list.size() >= kMaxIdleConnectionsPerOrigin || idle_count >= kMaxIdleConnections) return;
    list.push_back(std::move(client));
    ++idle_count;
  }

  // One HTTP exchange, cut off at the deadline. `max_bytes` caps the body.
  Status send(const std::string& method, const Url& url, httplib::Headers headers, const std::string& body,
              std::size_t max_bytes, Deadline deadline, const Endpoint& ep, Reply& out) {
    const double left = seconds_left(deadline);
    const std::string who = url.host == ep.host ? "registry " + ep.describe() : url.host;
    if (left <= 0) return Status::deadline_exceeded(who + " was not asked: the lookup's time ran out");
    auto client = acquire(url);
    const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
    const auto sec = static_cast<time_t>(timeout.count() / 1000000);
    const auto usec = static_cast<time_t>(timeout.count() % 1000000);
    client->set_connection_timeout(sec, usec);
    client->set_read_timeout(sec, usec);
    client->set_write_timeout(sec, usec);

    httplib::Request req;
    req.method = method;
    req.path = url.target;
    req.headers = std::move(headers);
    req.headers.emplace("User-Agent", "podguard/" PODGUARD_VERSION);
    req.body = body;
    if (!body.empty()) req.headers.emplace("Content-Type", "application/x-www-form-urlencoded");
    bool too_large = false;
    std::size_t limit = max_bytes;
    out = Reply{};
    req.response_handler = [&](const httplib::Response& res) {
      if (res.status < 200 || res.status >= 300) limit = std::min(max_bytes, kMaxErrorBodyBytes);
      if (method == "HEAD") return true;
      const std::string length = res.get_header_value("Content-Length");
      std::size_t announced = 0;
      const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), announced);
      if (ec == std::errc() && end == length.data() + length.size() && announced > limit) {
        too_large = true;
        return false;
      }
      return true;
    };
    req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
      if (out.body.size() + n > limit) {
        too_large = true;
        return false;
      }
      out.body.append(data, n);
      return true;
    };
    // A server that trickles bytes resets the read timeout at each one: the
    // watchdog stops the exchange at the deadline whatever it is doing.
    httplib::Client* raw = client.get();
    const auto start = Clock::now();
    const std::uint64_t alarm = watchdog.schedule(deadline, [raw] { raw->stop(); });
    // Checked after the alarm is set: shut_down() sets the flag, then fires
    // every alarm, so a request either sees the flag or gets cut off.
    if (stopping()) {
      watchdog.cancel(alarm);
      return Status::unavailable("podguard is shutting down");
    }
    httplib::Result res = client->send(req);
    const bool cut_off = !watchdog.cancel(alarm);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();

    if (too_large) {
      log(method + " " + url.without_query() + ": over " + std::to_string(limit) + " bytes, " + std::to_string(ms) +
          " ms");
      return Status::too_large(who + " sent more than " + std::to_string(limit) + " bytes for " +
                               url.without_query().substr(url.origin().size()));
    }
    if (!res || cut_off) {
      if (stopping()) return Status::unavailable("podguard is shutting down");
      const bool late = cut_off || Clock::now() >= deadline;
      log(method + " " + url.without_query() + ": " + (late ? "deadline" : httplib::to_string(res.error())) + ", " +
          std::to_string(ms) + " ms");
      if (late) return Status::deadline_exceeded(who + " did not answer within " + format_seconds(left));
      return Status::unavailable(who + " " + transport_error(res.error()));
    }
    log(method + " " + url.without_query() + ": " + std::to_string(res->status) + ", " + std::to_string(ms) + " ms");
    out.status = res->status;
    out.headers = res->headers;
    if (method == "HEAD") out.body.clear();
    release(url, std::move(client));
    return Status();
  }

  bool stopping() {
    std::lock_guard lock(mutex);
    return shutting_down;
  }

  // Waits `wait` unless shutting down first; false when shutting down.
  bool pause(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex);
    return !shutdown_signal.wait_for(lock, wait, [&] { return shutting_down; });
  }

  bool plain_http_allowed(const Url& url) const { return url.https || insecure.count(url.host) != 0; }

  // --- authentication -----------------------------------------------------

  const RegistryCredential* credential(const Endpoint& ep, std::string_view repository) const {
    return credentials.find(ep.host, std::string(ep.prefix) + std::string(repository));
  }

  // What to send before any challenge: a token still valid, or Basic when
  // the registry asked for it last time.
  std::string known_authorization(const Endpoint& ep, const std::string& scope, const RegistryCredential* cred) {
    std::lock_guard lock(mutex);
    if (const auto t = tokens.find(ep.host + " " + scope); t != tokens.end() && t->second.expires > Clock::now()) {
      return t->second.authorization;
    }
    if (const auto c = challenges.find(ep.host);
        c != challenges.end() && c->second.scheme == AuthChallenge::Scheme::kBasic && cred && cred->has_login()) {
      return "Basic " + base64(cred->username + ":" + cred->password);
    }
    return "";
  }

  void remember(const Endpoint& ep, const std::string& scope, const AuthChallenge& challenge, Token token) {
    std::lock_guard lock(mutex);
    challenges[ep.host] = challenge;
    if (token.authorization.empty() || token.expires <= Clock::now()) return;
    if (tokens.size() >= kMaxCachedTokens) {
      const auto now = Clock::now();
      std::erase_if(tokens, [&](const auto& t) { return t.second.expires <= now; });
      if (tokens.size() >= kMaxCachedTokens) tokens.clear();
    }
    tokens[ep.host + " " + scope] = std::move(token);
  }

  // Answers a 401's challenge: the Authorization to retry with.
  Result<std::string> authorize(const Endpoint& ep, const std::string& repository, const std::string& scope,
                                const AuthChallenge& challenge, const RegistryCredential* cred, Deadline deadline) {
    const std::string who = "registry " + ep.describe();
    if (challenge.scheme == AuthChallenge::Scheme::kBasic) {
      if (cred == nullptr || !cred->has_login()) {
        return Status::permission_denied(who + " asks for a login (Basic) and the credentials have none for " +
                                         ep.host);
      }
      remember(ep, scope, challenge, {});
      return "Basic " + base64(cred->username + ":" + cred->password);
    }
    if (cred != nullptr && !cred->registry_token.empty()) return "Bearer " + cred->registry_token;
    auto token = fetch_token(ep, repository, scope, challenge, cred, deadline);
    if (!token.ok()) return token.status();
    const std::string authorization = token->authorization;
    remember(ep, scope, challenge, std::move(*token));
    return authorization;
  }

  // The distribution token flow: GET realm?service=..&scope=.. (Basic auth
  // with a login), or the OAuth2 refresh-token POST with an identity token.
  Result<Token> fetch_token(const Endpoint& ep, const std::string& repository, const std::string& scope,
                            const AuthChallenge& challenge, const RegistryCredential* cred, Deadline deadline) {
    const std::string who = "registry " + ep.describe();
    std::optional<Url> realm = parse_url(challenge.realm);
    if (!realm) return Status::unavailable(who + " names a token service that is not an http(s) URL");
    if (!plain_http_allowed(*realm)) {
      return Status::unavailable(who + " names a plain-HTTP token service at " + realm->host +
                                 " (list it in insecureRegistries to allow that)");
    }
    const std::string& wanted = challenge.scope.empty() ? scope : challenge.scope;
    httplib::Headers headers;
    std::string body;
    const bool refresh = cred != nullptr && !cred->identity_token.empty();
    const auto query = [](const std::string& v) { return httplib::detail::encode_query_param(v); };
    if (refresh) {
      body = "grant_type=refresh_token&client_id=podguard&service=" + query(challenge.service) +
             "&scope=" + query(wanted) + "&refresh_token=" + query(cred->identity_token);
    } else {
      realm->target += realm->target.find('?') == std::string::npos ? "?" : "&";
      realm->target += "service=" + query(challenge.service) + "&scope=" + query(wanted);
      if (cred != nullptr && cred->has_login()) {
        headers.emplace("Authorization", "Basic " + base64(cred->username + ":" + cred->password));
      }
    }
    Reply reply;
    if (Status s =
            send(refresh ? "POST" : "GET", *realm, std::move(headers), body, kMaxTokenBytes, deadline, ep, reply);
        !s.ok()) {
      return std::move(s).prefix("asking the token service of " + who + " for access to " + repository);
    }
    const bool anonymous = cred == nullptr || (!cred->has_login() && !refresh);
    if (reply.status == 401 || reply.status == 403) {
      return Status::permission_denied("the token service " + realm->host + " of " + who + " refused " +
                                       (anonymous ? "an anonymous token" : "the configured credentials") + " for " +
                                       repository + " (" + std::to_string(reply.status) + ")");
    }
    if (reply.status != 200) {
      return Status::unavailable("the token service " + realm->host + " of " + who + " answered " +
                                 std::to_string(reply.status));
    }
    const json doc = json::parse(reply.body, nullptr, false);
    std::string token;
    if (doc.is_object()) {
      for (const char* key : {"token", "access_token"}) {
        if (const auto t = doc.find(key); token.empty() && t != doc.end() && t->is_string())
          token = t->get<std::string>();
      }
    }
    if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
      return Status::unavailable("the token service " + realm->host + " of " + who + " sent no usable token");
    }
    std::int64_t expires_in = 60;  // the spec's default
    if (const auto e = doc.find("expires_in"); e != doc.end() && e->is_number_integer()) {
      expires_in = std::max<std::int64_t>(e->get<std::int64_t>(), 0);
    }
    return Token{"Bearer " + token, Clock::now() + std::chrono::seconds(expires_in) - kTokenMargin};
  }

  // --- one resource -------------------------------------------------------

  static std::vector<std::string> secrets_of(const RegistryCredential* cred, const std::string& authorization) {
    std::vector<std::string> out;
    if (!authorization.empty()) {
      out.push_back(authorization);
      out.push_back(authorization.substr(authorization.find(' ') + 1));
    }
    if (cred != nullptr) {
      for (const std::string* s : {&cred->password, &cred->identity_token, &cred->registry_token}) {
        if (!s->empty()) out.push_back(*s);
      }
      if (cred->has_login()) out.push_back(base64(cred->username + ":" + cred->password));
    }
    return out;
  }

  // GET or HEAD `path` on the registry, authenticating and following
  // redirects as needed; 429s are waited out within the deadline. Any
  // other status is returned for the caller to judge.
  Status exchange(const Endpoint& ep, const std::string& repository, const std::string& method, const std::string& path,
                  std::string_view accept, std::size_t max_bytes, Deadline deadline, Reply& reply) {
    const std::string who = "registry " + ep.describe();
    const std::string scope = "repository:" + ep.prefix + repository + ":pull";
    const RegistryCredential* cred = credential(ep, repository);
    std::string authorization = known_authorization(ep, scope, cred);
    Url url{ep.https, ep.host, path};
    bool challenged = false;
    int redirects = 0;
    int waits = 0;
    while (true) {
      const bool registry_origin = url.origin() == ep.origin();
      httplib::Headers headers{{"Accept", std::string(accept)}};
      if (registry_origin && !authorization.empty()) headers.emplace("Authorization", authorization);
      if (Status s = send(method, url, std::move(headers), "", max_bytes, deadline, ep, reply); !s.ok()) return s;
      reply.secrets = secrets_of(cred, registry_origin ? authorization : "");

      if (reply.status >= 300 && reply.status < 400 && reply.status != 304) {
        const std::optional<Url> next = resolve_location(url, reply.header("Location"));
        if (!next) {
          return Status::unavailable(who + " redirected (" + std::to_string(reply.status) +
                                     ") without a usable Location");
        }
        if (++redirects > kMaxRedirects) return Status::unavailable(who + " redirected more than 5 times");
        if (!plain_http_allowed(*next)) {
          return Status::unavailable(who + " redirected to plain HTTP at " + next->host +
                                     " (list it in insecureRegistries to allow that)");
        }
        url = *next;
        continue;
      }
      if (reply.status == 401 && registry_origin && !challenged) {
        challenged = true;
        const auto challenge = parse_www_authenticate(reply.header("WWW-Authenticate"));
        if (!challenge) return Status::permission_denied(who + " refused the request (401) without a usable challenge");
        auto next = authorize(ep, repository, scope, *challenge, cred, deadline);
        if (!next.ok()) return next.status();
        authorization = std::move(*next);
        continue;
      }
      if (reply.status == 429) {
        const auto wait = retry_after(reply.header("Retry-After"));
        if (waits >= kMax429Retries || Clock::now() + wait >= deadline) {
          return Status::unavailable(who + " is rate-limiting podguard (429, Retry-After " +
                                     format_seconds(std::chrono::duration<double>(wait).count()) +
                                     (waits >= kMax429Retries ? ", again after waiting" : ", past the lookup's time") +
                                     ")");
        }
        ++waits;
        log("429 from " + url.host + ": retrying in " + std::to_string(wait.count()) + " ms");
        if (!pause(wait)) return Status::unavailable("podguard is shutting down");
        continue;
      }
      return Status();
    }
  }

  // Turns a status other than 200 into the Status that explains it.
  Status judge(const Endpoint& ep, const Reply& reply, const std::string& what, bool had_login) const {
    if (reply.status >= 200 && reply.status < 300) return Status();
    const std::string who = "registry " + ep.describe();
    std::string detail = redact(registry_error(reply.body), reply.secrets);
    detail = detail.empty() ? std::to_string(reply.status) : std::to_string(reply.status) + " " + detail;
    switch (reply.status) {
      case 404:
        return Status::not_found(who + " has no " + what + " (" + detail + ")");
      case 401:
      case 403:
        return Status::permission_denied(who + " refused access to " + what + " (" + detail + ")" +
                                         (had_login ? "" : "; no credentials are configured for it"));
      default:
        return Status::unavailable(who + " answered " + detail + " for " + what);
    }
  }
};

RegistryClient::RegistryClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegistryClient::~RegistryClient() { shut_down(); }

Result<std::unique_ptr<RegistryClient>> RegistryClient::create(const RegistryOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!(options.timeout_seconds > 0) || options.timeout_seconds > 3600) {
    return Status::invalid_input("must be more than 0 and at most 3600 seconds").with_key("timeoutSeconds");
  }
  for (const std::string& host : options.insecure_registries) {
    if (host.empty() || host.find_first_of("/ ") != std::string::npos) {
      return Status::invalid_input("\"" + printable(host) + "\" is not a host[:port]").with_key("insecureRegistries");
    }
    impl->insecure.insert(lowercase(host));
  }
  for (const auto& [registry, mirror] : options.mirrors) {
    const auto slash = mirror.find('/');
    Endpoint ep;
    ep.registry = registry;
    ep.host = lowercase(mirror.substr(0, slash));
    if (slash != std::string::npos) {
      ep.prefix = mirror.substr(slash + 1);
      while (!ep.prefix.empty() && ep.prefix.back() == '/') ep.prefix.pop_back();
      if (!ep.prefix.empty()) ep.prefix += '/';
    }
    if (registry.empty() || ep.host.empty() || mirror.find("://") != std::string::npos ||
        mirror.find_first_of(" ?#") != std::string::npos) {
      return Status::invalid_input("\"" + printable(mirror) + "\" is not host[:port][/path-prefix]")
          .with_key("mirrors." + registry);
    }
    impl->mirrors.emplace(canonical_registry_host(registry), std::move(ep));
  }
  if (!options.credentials_json.empty()) {
    auto parsed = DockerCredentials::parse(options.credentials_json);
    if (!parsed.ok()) return Status(parsed.error()).prefix("credentials");
    impl->credentials = std::move(*parsed);
  }
  if (!options.credentials_file.empty()) {
    std::ifstream in(options.credentials_file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
      return Status::io_error("cannot read the registry credentials").with_file(options.credentials_file);
    }
    auto parsed = DockerCredentials::parse(text.str());
    if (!parsed.ok()) return Status(parsed.error()).with_file(options.credentials_file);
    impl->credentials.merge(*parsed);
  }
  if (!options.ca_file.empty()) {
    impl->ca_store = X509_STORE_new();
    if (impl->ca_store == nullptr || X509_STORE_set_default_paths(impl->ca_store) != 1 ||
        X509_STORE_load_file(impl->ca_store, options.ca_file.c_str()) != 1) {
      return Status::io_error("cannot read CA certificates (PEM) from it").with_file(options.ca_file);
    }
  }
  return std::unique_ptr<RegistryClient>(new RegistryClient(std::move(impl)));
}

void RegistryClient::shut_down() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->shutting_down = true;
  }
  impl_->shutdown_signal.notify_all();
  impl_->watchdog.run_all_now();  // cuts off the requests in flight
}

std::string RegistryClient::describe(std::string_view registry) const { return impl_->endpoint(registry).describe(); }

Result<FetchedManifest> RegistryClient::fetch_manifest(const ImageReference& ref, std::string_view tag_or_digest,
                                                       Deadline deadline) {
  const Endpoint ep = impl_->endpoint(ref.registry);
  const bool by_digest = tag_or_digest.find(':') != std::string_view::npos;
  const std::string what = "manifest " + ref.repository + (by_digest ? "@" : ":") + std::string(tag_or_digest);
  Reply reply;
  if (Status s = impl_->exchange(ep, ref.repository, "GET",
                                 "/v2/" + ep.prefix + ref.repository + "/manifests/" + std::string(tag_or_digest),
                                 media_type::kManifestAccept, kMaxManifestBytes, deadline, reply);
      !s.ok()) {
    return s;
  }
  if (Status s = impl_->judge(ep, reply, what, impl_->credential(ep, ref.repository) != nullptr); !s.ok()) return s;
  const std::string who = "registry " + ep.describe();
  const std::string announced = reply.header("Docker-Content-Digest");
  const std::string expected = by_digest ? std::string(tag_or_digest) : announced;
  const std::optional<std::string> digest = digest_of(reply.body, expected.empty() ? "sha256:" : expected);
  if (!digest) return Status::invalid_input(who + " uses a digest algorithm podguard does not know for " + what);
  if (!expected.empty() && *digest != expected) {
    return Status::invalid_input(who + " sent a " + what + " whose content does not match the digest " + expected);
  }
  auto manifest = parse_image_manifest(reply.body, reply.header("Content-Type"));
  if (!manifest.ok()) return Status(manifest.error()).prefix(who + " sent a " + what + " podguard cannot read");
  return FetchedManifest{*digest, std::move(*manifest)};
}

Result<std::string> RegistryClient::manifest_digest(const ImageReference& ref, std::string_view tag,
                                                    Deadline deadline) {
  const Endpoint ep = impl_->endpoint(ref.registry);
  Reply reply;
  if (Status s = impl_->exchange(ep, ref.repository, "HEAD",
                                 "/v2/" + ep.prefix + ref.repository + "/manifests/" + std::string(tag),
                                 media_type::kManifestAccept, 0, deadline, reply);
      !s.ok()) {
    return s;
  }
  const std::string what = "manifest " + ref.repository + ":" + std::string(tag);
  if (Status s = impl_->judge(ep, reply, what, impl_->credential(ep, ref.repository) != nullptr); !s.ok()) return s;
  std::string digest = reply.header("Docker-Content-Digest");
  if (!digest_problem(digest).empty()) digest.clear();
  return digest;
}

Result<ImageConfig> RegistryClient::fetch_config(const ImageReference& ref, std::string_view digest,
                                                 Deadline deadline) {
  const Endpoint ep = impl_->endpoint(ref.registry);
  const std::string who = "registry " + ep.describe();
  const std::string what = "config blob " + std::string(digest) + " of " + ref.repository;
  if (std::string why = digest_problem(digest); !why.empty()) return Status::invalid_input(what + ": " + why);
  Reply reply;
  const std::string accept =
      std::string(media_type::kOciConfig) + ", " + std::string(media_type::kDockerConfig) + ", */*";
  if (Status s = impl_->exchange(ep, ref.repository, "GET",
                                 "/v2/" + ep.prefix + ref.repository + "/blobs/" + std::string(digest), accept,
                                 kMaxConfigBytes, deadline, reply);
      !s.ok()) {
    return s;
  }
  if (Status s = impl_->judge(ep, reply, what, impl_->credential(ep, ref.repository) != nullptr); !s.ok()) return s;
  if (digest_of(reply.body, digest) != std::string(digest)) {
    return Status::invalid_input(who + " sent a " + what + " whose content does not match its digest");
  }
  auto config = parse_image_config(reply.body);
  if (!config.ok()) {
    Status s = config.error();
    return Status::invalid_input(who + " sent a " + what + " podguard cannot read: " + s.to_string());
  }
  return config;
}

}  // namespace podguard::registry

// A verifying TLS client for the server tests: it connects to 127.0.0.1 but
// checks the certificate for the name the API server uses
// (podguard.podguard.svc), speaks HTTP/1.1 keep-alive, can send a request in
// pieces, and can present a client certificate.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace podguard::testing {

// A plain TCP connection to 127.0.0.1:port: the descriptor, or -1 with errno
// set (ECONNREFUSED once a listener is closed).
inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

struct TlsOptions {
  std::string server_name = "podguard.podguard.svc";
  std::string ca_file;           // trust anchor for the server certificate
  std::string client_cert_file;  // optional client certificate
  std::string client_key_file;
  int timeout_ms = 5000;
  SSL_SESSION* resume = nullptr;  // a session to resume (from session())
};

class TlsConnection {
 public:
  ~TlsConnection() {
    if (ssl_ != nullptr) SSL_shutdown(ssl_);
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }

  // Connects and completes the handshake; nullptr and `error` on failure
  // (including a certificate that does not verify for server_name).
  static std::unique_ptr<TlsConnection> open(int port, const TlsOptions& options, std::string* error = nullptr) {
    std::unique_ptr<TlsConnection> c(new TlsConnection());
    auto fail = [&](const std::string& why) -> std::unique_ptr<TlsConnection> {
      if (error != nullptr) {
        char buf[256] = "";
        if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
        *error = why + (buf[0] != '\0' ? std::string(": ") + buf : "");
      }
      ERR_clear_error();
      return nullptr;
    };
    c->fd_ = connect_loopback(port);
    if (c->fd_ < 0) return fail("connect failed");
    int one = 1;
    setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->set_timeout(options.timeout_ms);
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(c->ctx_, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(c->ctx_, options.ca_file.c_str(), nullptr) != 1) return fail("bad CA file");
    if (!options.client_cert_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(c->ctx_, options.client_cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(c->ctx_, options.client_key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        return fail("bad client certificate");
      }
    }
    c->ssl_ = SSL_new(c->ctx_);
    // SSL_set_tlsext_host_name, without the macro's C cast.
    SSL_ctrl(c->ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(options.server_name.c_str()));
    SSL_set1_host(c->ssl_, options.server_name.c_str());
    SSL_set_fd(c->ssl_, c->fd_);
    if (options.resume != nullptr) SSL_set_session(c->ssl_, options.resume);
    if (SSL_connect(c->ssl_) != 1) return fail("TLS handshake failed");
    if (SSL_get_verify_result(c->ssl_) != X509_V_OK) return fail("certificate did not verify");
    return c;
  }

  void set_timeout(int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  bool send(const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
      const int n = SSL_write(ssl_, data.data() + done, static_cast<int>(data.size() - done));
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  static std::string request_text(const std::string& method, const std::string& path, const std::string& body,
                                  const std::string& content_type = "application/json") {
    std::string r = method + " " + path + " HTTP/1.1\r\nHost: podguard.podguard.svc\r\n";
    if (!body.empty() || method == "POST") {
      r += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    return r + "\r\n" + body;
  }

  std::optional<HttpResponse> request(const std::string& method, const std::string& path, const std::string& body = {}) {
    if (!send(request_text(method, path, body))) return std::nullopt;
    return read_response();
  }

  std::optional<HttpResponse> read_response() {
    std::size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    HttpResponse r;
    const std::string head = buffer_.substr(0, header_end);
    buffer_.erase(0, header_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    while (line_end != std::string::npos) {
      const std::size_t next = head.find("\r\n", line_end + 2);
      const std::string line = head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      line_end = next;
    }
    const std::size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    while (buffer_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // True when the server closes the connection within the timeout (after
  // whatever it sends first); false when the read times out.
  bool closed_by_peer() {
    char buf[4096];
    while (true) {
      errno = 0;
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        buffer_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      const int error = SSL_get_error(ssl_, n);
      if (error == SSL_ERROR_ZERO_RETURN) return true;
      if (error == SSL_ERROR_SYSCALL) return errno != EAGAIN && errno != EWOULDBLOCK;
      return error != SSL_ERROR_WANT_READ;
    }
  }

  // The session to resume in a later connection (TLS 1.3 sends it after the
  // handshake: call after a response was read). The caller frees it.
  SSL_SESSION* session() const { return SSL_get1_session(ssl_); }
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }

  // SHA-256 of the server certificate this connection was made with.
  std::string peer_fingerprint() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (cert == nullptr) return {};
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(cert, EVP_sha256(), digest, &n);
    X509_free(cert);
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
      out += kHex[digest[i] >> 4];
      out += kHex[digest[i] & 15];
    }
    return out;
  }

 private:
  TlsConnection() = default;

  bool fill() {
    char buf[16384];
    const int n = SSL_read(ssl_, buf, sizeof buf);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

}  // namespace podguard::testing

// An HTTPS server that podguard calls as a client (the Kubernetes API for
// `podguard certgen`, a webhook for `podguard webhook-test`): its URL, the
// CA file that verifies it, and an optional bearer token. One JSON request
// at a time; not shared between threads.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace httplib {
class SSLClient;
}

namespace podguard::cli {

struct HttpsUrl {
  std::string host;  // without brackets for IPv6
  int port = 443;
  std::string path;  // "/" when the URL has none
};

// https://host[:port][/path], with [v6] hosts; nullopt for anything else.
std::optional<HttpsUrl> parse_https_url(const std::string& url);

struct HttpsAnswer {
  int status = 0;     // 0: no answer (error says why)
  std::string body;
  std::string error;
};

class HttpsEndpoint {
 public:
  // Verifies the server against the PEM CA certificates in `ca_file` and
  // the URL's host name.
  HttpsEndpoint(const HttpsUrl& base, const std::string& ca_file, double timeout_seconds);
  ~HttpsEndpoint();
  HttpsEndpoint(const HttpsEndpoint&) = delete;
  HttpsEndpoint& operator=(const HttpsEndpoint&) = delete;

  void set_bearer_token(const std::string& token);

  // `method` is GET, POST, PUT or PATCH; `path` is appended to the base path.
  HttpsAnswer send(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& content_type = "application/json");

  std::string describe() const;  // https://host:port

 private:
  HttpsUrl base_;
  std::unique_ptr<httplib::SSLClient> client_;
};

}  // namespace podguard::cli

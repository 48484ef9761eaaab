#include "cli/https_endpoint.h"

#include <chrono>

#include <httplib.h>

namespace podguard::cli {

std::optional<HttpsUrl> parse_https_url(const std::string& url) {
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) return std::nullopt;
  const std::size_t slash = url.find('/', scheme.size());
  const std::string authority = url.substr(scheme.size(), slash == std::string::npos ? slash : slash - scheme.size());
  HttpsUrl out;
  out.path = slash == std::string::npos ? "/" : url.substr(slash);
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) return std::nullopt;
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return std::nullopt;
      port = authority.substr(close + 2);
    }
  } else {
    const std::size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    out.port = std::stoi(port);
    if (out.port < 1 || out.port > 65535) return std::nullopt;
  }
  return out;
}

HttpsEndpoint::HttpsEndpoint(const HttpsUrl& base, const std::string& ca_file, double timeout_seconds)
    : base_(base), client_(std::make_unique<httplib::SSLClient>(base.host, base.port)) {
  client_->set_ca_cert_path(ca_file.c_str());
  client_->enable_server_certificate_verification(true);
  const auto timeout = std::chrono::duration<double>(timeout_seconds);
  client_->set_connection_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client_->set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  client_->set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
}

HttpsEndpoint::~HttpsEndpoint() = default;

void HttpsEndpoint::set_bearer_token(const std::string& token) { client_->set_bearer_token_auth(token); }

HttpsAnswer HttpsEndpoint::send(const std::string& method, const std::string& path, const std::string& body,
                                const std::string& content_type) {
  std::string full = base_.path;
  if (!full.empty() && full.back() == '/' && !path.empty() && path.front() == '/') full.pop_back();
  full += path;
  httplib::Result result{nullptr, httplib::Error::Unknown};
  if (method == "GET") {
    result = client_->Get(full);
  } else if (method == "POST") {
    result = client_->Post(full, body, content_type.c_str());
  } else if (method == "PUT") {
    result = client_->Put(full, body, content_type.c_str());
  } else if (method == "PATCH") {
    result = client_->Patch(full, body, content_type.c_str());
  } else {
    return {0, "", "unsupported method " + method};
  }
  if (!result) {
    std::string error = httplib::to_string(result.error());
    if (result.error() == httplib::Error::SSLServerVerification) {
      error += ": the server's certificate does not verify against the CA file";
    }
    return {0, "", error};
  }
  return {result->status, result->body, ""};
}

std::string HttpsEndpoint::describe() const {
  const bool v6 = base_.host.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + base_.host + "]" : base_.host) + ":" + std::to_string(base_.port);
}

}  // namespace podguard::cli

// `podguard serve` started for real on 127.0.0.1 with freshly made
// certificates in a fresh directory, spoken to through a verifying TLS
// client that checks the name the API server uses (podguard.podguard.svc),
// and its plain-HTTP metrics port. Shared by the server tests and the
// image-lookup tests.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cert_factory.h"
#include "engine/reading/document.h"
#include "server_process.h"
#include "tls_client.h"

namespace podguard::testing {

namespace fs = std::filesystem;

inline const std::string kContract = "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\n";

inline fs::path temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "podguard-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

inline void write(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  std::ofstream(tmp) << text;
  fs::rename(tmp, path);  // atomic, as Kubernetes volume updates are
}

struct WebhookOptions {
  std::string config = kContract;
  bool client_ca = false;
  std::vector<std::string> extra;
  std::vector<std::string> wrapper;  // a command that runs podguard, e.g. prlimit
};

// A running webhook with its files in a fresh directory.
class Webhook {
 public:
  explicit Webhook(WebhookOptions options = {}) : dir_(temp_dir()) {
    write(dir_ / "config.yaml", options.config);
    ca_.write_ca(dir_ / "ca.crt");
    CertFactory::install(ca_.server({"podguard.podguard.svc"}), dir_ / "tls.crt", dir_ / "tls.key");
    std::vector<std::string> args = {PODGUARD_BINARY,
                                     "serve",
                                     "--config",
                                     (dir_ / "config.yaml").string(),
                                     "--tls-cert",
                                     (dir_ / "tls.crt").string(),
                                     "--tls-key",
                                     (dir_ / "tls.key").string(),
                                     "--addr",
                                     "127.0.0.1:0",
                                     "--metrics-addr",
                                     "127.0.0.1:0",
                                     "--reload-interval",
                                     "0.1"};
    if (options.client_ca) {
      args.push_back("--client-ca");
      args.push_back((dir_ / "ca.crt").string());
    }
    args.insert(args.end(), options.extra.begin(), options.extra.end());
    args.insert(args.begin(), options.wrapper.begin(), options.wrapper.end());
    process_ = std::make_unique<ServerProcess>(args);
    const auto listening = process_->wait_listening();
    REQUIRE_MESSAGE(listening, "podguard serve did not start: " << process_->stderr_text());
    port_ = listening->at("port").get<int>();
    metrics_port_ = listening->at("metrics_port").get<int>();
  }

  ~Webhook() {
    process_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  TlsOptions tls() const {
    TlsOptions o;
    o.ca_file = (dir_ / "ca.crt").string();
    return o;
  }

  std::unique_ptr<TlsConnection> connect(int timeout_ms) {
    TlsOptions o = tls();
    o.timeout_ms = timeout_ms;
    return connect(o);
  }
  std::unique_ptr<TlsConnection> connect(const TlsOptions& options) {
    std::string error;
    auto c = TlsConnection::open(port_, options, &error);
    REQUIRE_MESSAGE(c, error);
    return c;
  }
  std::unique_ptr<TlsConnection> connect() { return connect(tls()); }

  HttpResponse post(const std::string& body, const std::string& path = "/validate") {
    auto response = connect()->request("POST", path, body);
    REQUIRE(response);
    return *response;
  }

  Json admit(const Json& review_json, const std::string& path = "/validate") {
    const HttpResponse r = post(std::string(review_json.dump()), path);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.headers.at("content-type") == "application/json");
    return Json::parse(r.body);
  }

  httplib::Result plain_get(const std::string& path) {
    httplib::Client client("127.0.0.1", metrics_port_);
    client.set_read_timeout(5, 0);
    return client.Get(path.c_str());
  }

  std::string metrics_url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(metrics_port_) + path;
  }

  std::string metrics() {
    auto r = plain_get("/metrics");
    REQUIRE(r);
    CHECK(r->status == 200);
    return r->body;
  }

  // The metrics once they contain every one of `lines`: a decision is
  // counted just after its answer is written, so a scrape right after an
  // answer may come first.
  std::string metrics_with(std::initializer_list<std::string> lines) {
    std::string m;
    for (int i = 0; i < 200; ++i) {
      m = metrics();
      if (std::all_of(lines.begin(), lines.end(), [&m](const std::string& l) { return m.find(l) != std::string::npos; })) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return m;
  }

  ServerProcess& process() { return *process_; }
  CertFactory& ca() { return ca_; }
  const fs::path& dir() const { return dir_; }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }

 private:
  fs::path dir_;
  CertFactory ca_;
  std::unique_ptr<ServerProcess> process_;
  int port_ = 0;
  int metrics_port_ = 0;
};

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace podguard::testing

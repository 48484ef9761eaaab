// Debian's docker-registry (distribution v2), run by the tests: its own
// config file and storage in a temporary directory, 127.0.0.1 on a port the
// kernel picks (read back from its "listening on" log line), optionally
// with htpasswd logins, token auth or TLS; stopped by PID. Images are pushed
// through the registry API (blob upload POST + PUT, manifest PUT), as
// docker push does.
#pragma once

#include <crypt.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "registry/fake_registry.h"
#include "registry/test_images.h"

namespace podguard::testing {

// An htpasswd line with a bcrypt hash (the only kind distribution accepts).
inline std::string htpasswd_line(const std::string& user, const std::string& password) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", 5, nullptr, 0, salt, sizeof salt) == nullptr) {
    throw std::runtime_error("libcrypt has no bcrypt");
  }
  crypt_data data{};
  const char* hash = crypt_rn(password.c_str(), salt, &data, sizeof data);
  if (hash == nullptr || hash[0] == '*') throw std::runtime_error("bcrypt failed");
  return user + ":" + hash + "\n";
}

class DockerRegistry {
 public:
  struct Options {
    std::string user;  // htpasswd auth when set
    std::string password;
    std::string cert_file;  // TLS when set
    std::string key_file;
    // Token auth when the realm is set: tokens are JWTs from `issuer` for
    // `service`, signed by a key whose certificate is in the bundle.
    std::string token_realm;
    std::string token_service;
    std::string token_issuer;
    std::string token_root_bundle;
  };

  // The binary, or "" when the docker-registry package is not installed.
  static std::string binary() {
    for (const char* path : {"/usr/bin/docker-registry", "/usr/local/bin/docker-registry"}) {
      if (access(path, X_OK) == 0) return path;
    }
    return "";
  }

  DockerRegistry() : DockerRegistry(Options()) {}
  explicit DockerRegistry(const Options& options) : tls_(!options.cert_file.empty()) {
    char dir_template[] = "/tmp/podguard-docker-registry-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir_template;
    std::ofstream config(dir_ / "config.yml");
    config << "version: 0.1\n"
              "log:\n  level: info\n  formatter: text\n"
              "storage:\n  filesystem:\n    rootdirectory: "
           << (dir_ / "data").string()
           << "\n  delete:\n    enabled: true\n"
              "http:\n  addr: 127.0.0.1:0\n  secret: podguard-test-secret\n";
    if (tls_) config << "  tls:\n    certificate: " << options.cert_file << "\n    key: " << options.key_file << "\n";
    if (!options.user.empty()) {
      std::ofstream(dir_ / "htpasswd") << htpasswd_line(options.user, options.password);
      config << "auth:\n  htpasswd:\n    realm: podguard-test\n    path: " << (dir_ / "htpasswd").string() << "\n";
    } else if (!options.token_realm.empty()) {
      config << "auth:\n  token:\n    realm: " << options.token_realm << "\n    service: " << options.token_service
             << "\n    issuer: " << options.token_issuer << "\n    rootcertbundle: " << options.token_root_bundle
             << "\n";
    }
    config.close();
    start();
  }

  ~DockerRegistry() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 500 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // up to 5 s for a clean exit
      }
      if (waitpid(pid_, &status, WNOHANG) == 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
      }
    }
    if (reader_.joinable()) reader_.join();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  DockerRegistry(const DockerRegistry&) = delete;
  DockerRegistry& operator=(const DockerRegistry&) = delete;

  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] pid_t pid() const { return pid_; }
  std::string output() const {
    std::lock_guard lock(mutex_);
    return output_;
  }

  // Pushes blobs then manifests, sending `authorization` (e.g. "Basic ...")
  // with every request.
  void push(const Push& p, const std::string& authorization = "") {
    httplib::Client client((tls_ ? "https://" : "http://") + host());
    client.enable_server_certificate_verification(false);  // the pusher is not under test
    client.set_read_timeout(10, 0);
    httplib::Headers headers;
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    const std::string base = "/v2/" + p.repository;
    for (const Blob& b : p.blobs) {
      auto start = client.Post(base + "/blobs/uploads/", headers, "", "application/octet-stream");
      expect(start, 202, "starting the upload of " + b.digest);
      std::string location = start->get_header_value("Location");
      location = location.substr(location.find("/v2/"));
      location += (location.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + b.digest;
      auto done = client.Put(location, headers, b.content, "application/octet-stream");
      expect(done, 201, "uploading " + b.digest);
    }
    for (const ManifestDoc& m : p.manifests) {
      auto put = client.Put(base + "/manifests/" + (m.reference.empty() ? m.digest : m.reference), headers, m.content,
                            m.media_type.c_str());
      expect(put, 201, "putting the manifest " + m.digest);
      if (put->get_header_value("Docker-Content-Digest") != m.digest) {
        throw std::runtime_error("the registry stored " + m.digest + " as " +
                                 put->get_header_value("Docker-Content-Digest"));
      }
    }
  }

 private:
  void start() {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(out[1], 2);
      close(out[0]);
      close(out[1]);
      const std::string config = (dir_ / "config.yml").string();
      const std::string bin = binary();
      execl(bin.c_str(), bin.c_str(), "serve", config.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    reader_ = std::thread([this, fd = out[0]] {
      static const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof buf)) > 0) {
        std::lock_guard lock(mutex_);
        output_.append(buf, static_cast<std::size_t>(n));
        std::smatch m;
        if (port_ == 0 && std::regex_search(output_, m, listening)) port_ = std::stoi(m[1]);
        if (port_ != 0) ready_.notify_all();
      }
      close(fd);
      std::lock_guard lock(mutex_);
      exited_ = true;
      ready_.notify_all();
    });
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, std::chrono::seconds(20), [&] { return port_ != 0 || exited_; }) || port_ == 0) {
      throw std::runtime_error("docker-registry did not start listening:\n" + output_);
    }
  }

  static void expect(const httplib::Result& r, int status, const std::string& what) {
    if (!r) throw std::runtime_error(what + ": " + httplib::to_string(r.error()));
    if (r->status != status) {
      throw std::runtime_error(what + ": " + std::to_string(r->status) + " " + r->body);
    }
  }

  bool tls_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool exited_ = false;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::string output_;
  std::thread reader_;
};

// A token service issuing the JWTs distribution checks: RS256, signed by a
// self-signed certificate given in the x5c header and trusted through the
// registry's rootcertbundle. GET /token grants what the scope asks, to
// anyone, or only to a request carrying the login when one is set.
class JwtTokenServer : public LocalServer {
 public:
  static constexpr const char* kService = "podguard-test-registry";
  static constexpr const char* kIssuer = "podguard-test-issuer";

  JwtTokenServer(std::string user, std::string password, const std::filesystem::path& bundle)
      : user_(std::move(user)), password_(std::move(password)) {
    key_ = EVP_RSA_gen(2048);
    cert_ = X509_new();
    X509_set_version(cert_, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert_), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert_), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert_), 86400);
    X509_set_pubkey(cert_, key_);
    X509_NAME* name = X509_get_subject_name(cert_);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("podguard token signer"), -1, -1, 0);
    X509_set_issuer_name(cert_, name);
    X509_sign(cert_, key_, EVP_sha256());
    FILE* f = std::fopen(bundle.c_str(), "wb");
    PEM_write_X509(f, cert_);
    std::fclose(f);

    server_->Get("/token", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      if (!user_.empty() && req.get_header_value("Authorization") != "Basic " + base64(user_ + ":" + password_)) {
        res.status = 401;
        return;
      }
      res.set_content(nlohmann::json{{"token", token(req.get_param_value("scope"))}, {"expires_in", 300}}.dump(),
                      "application/json");
    });
    start();
  }
  ~JwtTokenServer() override {
    stop();
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }

  [[nodiscard]] std::string realm() const { return "http://" + host() + "/token"; }

  // A token for `scope` ("repository:name:pull,push"), as the server issues them.
  std::string token(const std::string& scope) const {
    nlohmann::json access = nlohmann::json::array();
    if (scope.rfind("repository:", 0) == 0) {
      const std::string rest = scope.substr(11);
      const auto colon = rest.rfind(':');
      nlohmann::json actions = nlohmann::json::array();
      std::string list = rest.substr(colon + 1);
      for (std::size_t start = 0; start <= list.size();) {
        const auto comma = list.find(',', start);
        actions.push_back(list.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      access.push_back({{"type", "repository"}, {"name", rest.substr(0, colon)}, {"actions", actions}});
    }
    unsigned char* der = nullptr;
    const int der_len = i2d_X509(cert_, &der);
    const std::string cert_der(reinterpret_cast<char*>(der), static_cast<std::size_t>(der_len));
    OPENSSL_free(der);
    const long now = static_cast<long>(std::time(nullptr));
    const nlohmann::json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", {base64(cert_der)}}};
    const nlohmann::json claims = {{"iss", kIssuer},
                                   {"sub", user_.empty() ? "anonymous" : user_},
                                   {"aud", kService},
                                   {"exp", now + 300},
                                   {"nbf", now - 10},
                                   {"iat", now - 10},
                                   {"jti", std::to_string(now) + "-" + std::to_string(++serial_)},
                                   {"access", access}};
    const std::string input = base64url(header.dump()) + "." + base64url(claims.dump());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t sig_len = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_);
    EVP_DigestSign(ctx, nullptr, &sig_len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(sig_len, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(ctx);
    sig.resize(sig_len);
    return input + "." + base64url(sig);
  }

 private:
  static std::string base64url(std::string_view s) {
    std::string out = base64(s);
    for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    while (!out.empty() && out.back() == '=') out.pop_back();
    return out;
  }

  std::string user_, password_;
  EVP_PKEY* key_ = nullptr;
  X509* cert_ = nullptr;
  mutable std::atomic<int> serial_{0};
};

}  // namespace podguard::testing

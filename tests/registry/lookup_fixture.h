// What the registry tests share: options for registries on 127.0.0.1, a
// log that keeps every line, and checks that no secret shows anywhere.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cert_factory.h"
#include "registry/image_lookup.h"

namespace podguard::testing {

// Keeps the client's log lines (it calls from worker threads).
class CapturedLog {
 public:
  std::function<void(std::string_view)> sink() {
    return [this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    };
  }
  std::string text() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& l : lines_) out += l + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
};

// Options for test registries: plain HTTP to each host, a short budget, a
// log captured.
inline registry::RegistryOptions local_options(const std::vector<std::string>& insecure, CapturedLog* log = nullptr,
                                               double timeout_seconds = 5) {
  registry::RegistryOptions o;
  o.timeout_seconds = timeout_seconds;
  o.insecure_registries = insecure;
  if (log != nullptr) o.log = log->sink();
  return o;
}

inline std::unique_ptr<registry::ImageLookup> make_lookup(const registry::RegistryOptions& options) {
  auto lookup = registry::ImageLookup::create(options);
  REQUIRE_MESSAGE(lookup.ok(), lookup.status().to_string());
  return std::move(lookup.value());
}

// The failure's full text, for checks on what it says.
inline std::string failure(const registry::ImageResult& r) {
  REQUIRE_MESSAGE(!r.ok(), "expected a failure");
  return r.error().to_string();
}

// A copy: callers often pass a temporary Result.
inline ImageFacts facts(const registry::ImageResult& r) {
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  REQUIRE(r.value() != nullptr);
  return *r.value();
}

// Neither the text nor any of its lines holds one of `secrets`.
inline void check_no_secret(const std::string& text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    INFO("secret: " << s);
    CHECK_MESSAGE(text.find(s) == std::string::npos, text);
  }
}

// A fresh directory under /tmp, removed with its content at scope exit.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string name = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (mkdtemp(name.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = name;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A test CA and a serving certificate for localhost and 127.0.0.1, as PEM
// files: for registries over TLS.
struct TlsFiles {
  TempDir dir{"podguard-registry-tls"};
  std::string cert = (dir / "tls.crt").string();
  std::string key = (dir / "tls.key").string();
  std::string ca = (dir / "ca.crt").string();

  TlsFiles() {
    CertFactory factory;
    CertFactory::install(factory.server({"localhost"}), cert, key);
    factory.write_ca(ca);
  }
};

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace podguard::testing

// The TLS side of the webhook: the serving certificate and key (and the
// optional client CA), loaded from PEM files and swapped atomically when the
// files change. Each new handshake picks up the current identity through
// OpenSSL's certificate callback; established connections keep theirs.
//
// Loaded identities are immutable and shared through shared_ptr; the holder
// swaps its pointer atomically, so handshakes on any worker read it while the
// watcher thread replaces it.
#pragma once

#include <atomic>
#include <ctime>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "engine/base/status.h"

namespace podguard::server {

// A loaded certificate chain and private key. Immutable; shared between
// handshakes, which take their own OpenSSL references.
class TlsIdentity {
 public:
  ~TlsIdentity();
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;

  // Reads and checks the PEM files: the certificate chain (leaf first) and a
  // private key that matches it; a Status naming the file and the problem
  // otherwise.
  static Result<std::shared_ptr<const TlsIdentity>> load(const std::string& cert_path, const std::string& key_path);

  std::time_t not_after() const { return not_after_; }
  std::time_t not_before() const { return not_before_; }
  const std::string& subject() const { return subject_; }
  const std::string& fingerprint() const { return fingerprint_; }  // SHA-256, hex

  bool apply(SSL* ssl) const;

 private:
  TlsIdentity() = default;
  X509* cert_ = nullptr;
  STACK_OF(X509)* chain_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  std::time_t not_before_ = 0;
  std::time_t not_after_ = 0;
  std::string subject_;
  std::string fingerprint_;
};

// CA certificates that client certificates must chain to (--client-ca).
class ClientTrust {
 public:
  ~ClientTrust();
  ClientTrust(const ClientTrust&) = delete;
  ClientTrust& operator=(const ClientTrust&) = delete;

  static Result<std::shared_ptr<const ClientTrust>> load(const std::string& ca_path);

  bool apply(SSL* ssl) const;

 private:
  ClientTrust() = default;
  X509_STORE* store_ = nullptr;
  STACK_OF(X509_NAME)* names_ = nullptr;
};

// What new handshakes use; swapped whole on reload.
class TlsMaterial {
 public:
  std::shared_ptr<const TlsIdentity> identity() const { return identity_.load(); }
  std::shared_ptr<const ClientTrust> client_trust() const { return client_trust_.load(); }
  void set_identity(std::shared_ptr<const TlsIdentity> id) { identity_.store(std::move(id)); }
  void set_client_trust(std::shared_ptr<const ClientTrust> trust) { client_trust_.store(std::move(trust)); }

  // Sets up a server SSL_CTX: TLS 1.2 and later, the certificate callback,
  // and client certificate verification when `require_client_cert`.
  bool configure(SSL_CTX& ctx, bool require_client_cert);

 private:
  static int certificate_callback(SSL* ssl, void* arg);

  std::atomic<std::shared_ptr<const TlsIdentity>> identity_;
  std::atomic<std::shared_ptr<const ClientTrust>> client_trust_;
};

}  // namespace podguard::server

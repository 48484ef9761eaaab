#include "server/tls_identity.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

namespace podguard::server {
namespace {

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::time_t to_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

struct FileCloser {
  void operator()(FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

Result<File> open_file(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) return Status::io_error(std::string("cannot open: ") + std::strerror(errno)).with_file(path);
  return f;
}

}  // namespace

TlsIdentity::~TlsIdentity() {
  X509_free(cert_);
  if (chain_ != nullptr) sk_X509_pop_free(chain_, X509_free);
  EVP_PKEY_free(key_);
}

Result<std::shared_ptr<const TlsIdentity>> TlsIdentity::load(const std::string& cert_path,
                                                             const std::string& key_path) {
  std::shared_ptr<TlsIdentity> id(new TlsIdentity());
  ERR_clear_error();
  {
    Result<File> f = open_file(cert_path);
    if (!f.ok()) return f.error();
    id->cert_ = PEM_read_X509(f->get(), nullptr, nullptr, nullptr);
    if (id->cert_ == nullptr) {
      return Status::invalid_input(cert_path + " has no PEM certificate (" + openssl_error() + ")");
    }
    id->chain_ = sk_X509_new_null();
    while (X509* extra = PEM_read_X509(f->get(), nullptr, nullptr, nullptr)) sk_X509_push(id->chain_, extra);
    ERR_clear_error();  // the end of the file reads as an error
  }
  {
    Result<File> f = open_file(key_path);
    if (!f.ok()) return f.error();
    id->key_ = PEM_read_PrivateKey(f->get(), nullptr, nullptr, nullptr);
    if (id->key_ == nullptr) {
      return Status::invalid_input(key_path + " has no unencrypted PEM private key (" + openssl_error() + ")");
    }
  }
  if (X509_check_private_key(id->cert_, id->key_) != 1) {
    ERR_clear_error();
    return Status::invalid_input("the private key in " + key_path + " does not match the certificate in " + cert_path);
  }
  id->not_before_ = to_time(X509_get0_notBefore(id->cert_));
  id->not_after_ = to_time(X509_get0_notAfter(id->cert_));
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(id->cert_), subject, sizeof subject);
  id->subject_ = subject;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(id->cert_, EVP_sha256(), digest, &length) == 1) {
    static const char* kHex = "0123456789abcdef";
    for (unsigned int i = 0; i < length; ++i) {
      id->fingerprint_ += kHex[digest[i] >> 4];
      id->fingerprint_ += kHex[digest[i] & 15];
    }
  }
  return std::shared_ptr<const TlsIdentity>(std::move(id));
}

bool TlsIdentity::apply(SSL* ssl) const {
  // SSL_use_* take their own references, so a handshake in progress keeps
  // this identity alive even after a reload replaces it.
  if (SSL_use_certificate(ssl, cert_) != 1 || SSL_use_PrivateKey(ssl, key_) != 1) return false;
  return SSL_set1_chain(ssl, chain_) == 1;
}

ClientTrust::~ClientTrust() {
  X509_STORE_free(store_);
  if (names_ != nullptr) sk_X509_NAME_pop_free(names_, X509_NAME_free);
}

Result<std::shared_ptr<const ClientTrust>> ClientTrust::load(const std::string& ca_path) {
  std::shared_ptr<ClientTrust> trust(new ClientTrust());
  ERR_clear_error();
  trust->store_ = X509_STORE_new();
  if (X509_STORE_load_file(trust->store_, ca_path.c_str()) != 1) {
    return Status::invalid_input(ca_path + " has no usable PEM CA certificate (" + openssl_error() + ")");
  }
  trust->names_ = SSL_load_client_CA_file(ca_path.c_str());
  if (trust->names_ == nullptr) {
    return Status::invalid_input(ca_path + " has no PEM CA certificate (" + openssl_error() + ")");
  }
  return std::shared_ptr<const ClientTrust>(std::move(trust));
}

bool ClientTrust::apply(SSL* ssl) const {
  if (SSL_set1_verify_cert_store(ssl, store_) != 1) return false;
  STACK_OF(X509_NAME)* names = SSL_dup_CA_list(names_);
  if (names == nullptr) return false;
  SSL_set_client_CA_list(ssl, names);  // takes ownership
  return true;
}

int TlsMaterial::certificate_callback(SSL* ssl, void* arg) {
  const auto* material = static_cast<const TlsMaterial*>(arg);
  const auto identity = material->identity();
  if (!identity || !identity->apply(ssl)) return 0;
  if (const auto trust = material->client_trust()) {
    if (!trust->apply(ssl)) return 0;
  }
  return 1;
}

bool TlsMaterial::configure(SSL_CTX& ctx, bool require_client_cert) {
  SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Forward-secret AEAD suites only for TLS 1.2 (1.3's are all fine).
  if (SSL_CTX_set_cipher_list(&ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) return false;
  SSL_CTX_set_cert_cb(&ctx, certificate_callback, this);
  // Sessions are resumed (the API server reconnects with the ticket it got);
  // with client certificates verified, OpenSSL refuses a resumption, with an
  // internal error alert, unless the sessions carry an id context.
  static const unsigned char kSessionContext[] = "podguard";
  if (SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1) != 1) return false;
  if (require_client_cert) {
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return true;
}

}  // namespace podguard::server

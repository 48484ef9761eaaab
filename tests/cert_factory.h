// Test certificates made with the OpenSSL API: a CA, serving certificates
// with chosen names and validity (expired ones included), client
// certificates. Written as PEM files for the server under test.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace podguard::testing {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

inline Key new_key() {
  Key key(EVP_EC_gen("P-256"));
  if (!key) throw std::runtime_error("EVP_EC_gen failed");
  return key;
}

inline void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) throw std::runtime_error("bad extension " + value);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

class CertFactory {
 public:
  explicit CertFactory(const std::string& ca_name = "podguard test CA") : ca_key_(new_key()) {
    ca_ = make(ca_name, ca_key_.get(), nullptr, ca_key_.get(), -3600, 86400 * 30);
    add_extension(ca_.get(), ca_.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(ca_.get(), ca_.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    X509_sign(ca_.get(), ca_key_.get(), EVP_sha256());
  }

  struct Issued {
    Cert cert;
    Key key;
  };

  // A serving certificate for `dns` names and 127.0.0.1, valid from
  // now+not_before_s to now+not_after_s.
  Issued server(const std::vector<std::string>& dns, long not_before_s = -60, long not_after_s = 86400) {
    Issued out{nullptr, new_key()};
    out.cert = make(dns.empty() ? "server" : dns.front(), out.key.get(), ca_.get(), ca_key_.get(), not_before_s,
                    not_after_s);
    std::string san;
    for (const auto& d : dns) san += (san.empty() ? "" : ",") + std::string("DNS:") + d;
    san += ",IP:127.0.0.1";
    add_extension(out.cert.get(), ca_.get(), NID_subject_alt_name, san);
    add_extension(out.cert.get(), ca_.get(), NID_ext_key_usage, "serverAuth");
    X509_sign(out.cert.get(), ca_key_.get(), EVP_sha256());
    return out;
  }

  Issued client(const std::string& cn) {
    Issued out{nullptr, new_key()};
    out.cert = make(cn, out.key.get(), ca_.get(), ca_key_.get(), -60, 86400);
    add_extension(out.cert.get(), ca_.get(), NID_ext_key_usage, "clientAuth");
    X509_sign(out.cert.get(), ca_key_.get(), EVP_sha256());
    return out;
  }

  void write_ca(const std::filesystem::path& path) const { write_cert(ca_.get(), path); }

  static void write_cert(X509* cert, const std::filesystem::path& path) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot write " + path.string());
    PEM_write_X509(f, cert);
    std::fclose(f);
  }

  static void write_key(EVP_PKEY* key, const std::filesystem::path& path) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot write " + path.string());
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }

  // Writes cert and key through temporary files and renames, the way
  // cert-manager and kubelet updates appear to a reader.
  static void install(const Issued& issued, const std::filesystem::path& cert, const std::filesystem::path& key) {
    write_cert(issued.cert.get(), cert.string() + ".tmp");
    write_key(issued.key.get(), key.string() + ".tmp");
    std::filesystem::rename(key.string() + ".tmp", key);
    std::filesystem::rename(cert.string() + ".tmp", cert);
  }

 private:
  static Cert make(const std::string& cn, EVP_PKEY* key, X509* issuer, EVP_PKEY* /*issuer_key*/, long not_before_s,
                   long not_after_s) {
    static long serial = 1;
    Cert cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after_s);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
    return cert;
  }

  Key ca_key_;
  Cert ca_;
};

}  // namespace podguard::testing

// The CA and serving certificate of the admission webhook, made in memory
// with OpenSSL for `podguard certgen` (the chart's tls.mode certgen): ECDSA
// P-256, a CA that signs one serving certificate whose SANs are the names
// the API server may call the Service by. Also reads a certificate back to
// decide whether it can be kept. Stateless functions; safe from any thread.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

namespace podguard::cli {

// <svc>, <svc>.<ns>, <svc>.<ns>.svc and <svc>.<ns>.svc.cluster.local.
std::vector<std::string> service_dns_names(const std::string& service, const std::string& ns);

struct WebhookCertificates {
  std::string ca_pem;    // the CA certificate (the caBundle, once base64)
  std::string cert_pem;  // the serving certificate, signed by the CA
  std::string key_pem;   // the serving certificate's private key (PKCS#8)
  std::time_t not_after = 0;
};

// A new CA and serving certificate for `dns_names`, valid from an hour ago
// (clock skew) for `validity_days`. Throws std::runtime_error when OpenSSL
// fails, which it does not for valid names.
WebhookCertificates make_webhook_certificates(const std::vector<std::string>& dns_names, int validity_days);

// Why a serving certificate cannot be kept, or nullopt when it chains to
// `ca_pem`, covers every name and is valid for more than `renew_before_days`.
std::optional<std::string> reason_to_renew(const std::string& ca_pem, const std::string& cert_pem,
                                           const std::vector<std::string>& dns_names, int renew_before_days,
                                           std::time_t* not_after = nullptr);

std::string base64_encode(const std::string& bytes);
// nullopt when `text` is not base64.
std::optional<std::string> base64_decode(const std::string& text);

// RFC 3339 in UTC, e.g. 2036-01-02T03:04:05Z.
std::string utc_timestamp(std::time_t t);

}  // namespace podguard::cli

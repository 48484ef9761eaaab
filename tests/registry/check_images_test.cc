// `podguard check` and `podguard review` with image lookups, run as a user
// runs them: the config's images.lookup and the --image-lookup /
// --no-image-lookup overrides, findings from the image at the file:line of
// the container's image field, standard input, images.onError, and the
// review answer the webhook would send (with its `images` audit annotation).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "registry/docker_registry.h"
#include "registry/fake_registry.h"
#include "subprocess.h"

namespace podguard::testing {
namespace {

namespace fs = std::filesystem;

const std::string kBinary = PODGUARD_BINARY;

ProcessResult podguard(std::vector<std::string> args, const std::string& input = {}) {
  args.insert(args.begin(), kBinary);
  return run_process(args, input);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// An image that passes every image rule but for its USER.
ConfigSpec labelled(std::optional<std::string> user) {
  ConfigSpec s = passing_image();
  s.user = std::move(user);
  return s;
}

// A Deployment that passes every rule on its spec alone and leaves the user
// to the image (runAsNonRoot: true, no runAsUser). The image is on line 19.
std::string deployment(const std::string& image) {
  return "apiVersion: apps/v1\n"
         "kind: Deployment\n"
         "metadata:\n"
         "  name: api\n"
         "  namespace: shop\n"
         "spec:\n"
         "  selector:\n"
         "    matchLabels: {app: api}\n"
         "  template:\n"
         "    metadata:\n"
         "      labels: {app: api}\n"
         "    spec:\n"
         "      securityContext:\n"
         "        runAsNonRoot: true\n"
         "        seccompProfile: {type: RuntimeDefault}\n"
         "      terminationGracePeriodSeconds: 30\n"
         "      containers:\n"
         "        - name: api\n"
         "          image: " + image + "\n"
         "          securityContext:\n"
         "            allowPrivilegeEscalation: false\n"
         "            readOnlyRootFilesystem: true\n"
         "            capabilities: {drop: [ALL]}\n"
         "          resources:\n"
         "            requests: {cpu: 100m, memory: 64Mi}\n"
         "            limits: {memory: 64Mi}\n"
         "          livenessProbe: {httpGet: {path: /healthz, port: 8080}}\n"
         "          readinessProbe: {httpGet: {path: /readyz, port: 8080}}\n";
}

struct Fixture {
  Fixture() : dir(fs::temp_directory_path() / ("podguard-check-images-" + std::to_string(getpid()))) {
    fs::create_directories(dir / "deploy");
    registry.push(single_image("acme/api", "1.4.2", labelled("1001")));
    registry.push(single_image("acme/named", "1.0", labelled("app")));
    std::ofstream(dir / "deploy" / "named.yaml") << deployment(registry.host() + "/acme/named:1.0");
    std::ofstream(dir / "deploy" / "good.yaml") << deployment(registry.host() + "/acme/api:1.4.2");
  }
  ~Fixture() { fs::remove_all(dir); }

  std::string config(bool lookup, const std::string& on_error = "warn", const std::string& host = "") const {
    const fs::path path = dir / (lookup ? "lookup.yaml" : "no-lookup.yaml");
    std::ofstream(path) << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\nimages:\n"
                        << "  lookup: " << (lookup ? "true" : "false") << "\n  insecureRegistries: ["
                        << (host.empty() ? registry.host() : host) << "]\n  timeoutSeconds: 5\n  onError: "
                        << on_error << "\n";
    return path.string();
  }

  fs::path dir;
  FakeRegistry registry;
};

}  // namespace

TEST_CASE("podguard check --image-lookup: the image's USER decides run-as-non-root, at the image field's line") {
  Fixture f;
  const std::string named = (f.dir / "deploy" / "named.yaml").string();

  SUBCASE("images.lookup: true in the config") {
    const ProcessResult r = podguard({"check", "--config", f.config(true), (f.dir / "deploy").string()});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, named + ":19:"));
    CHECK(contains(r.out, "[run-as-non-root]"));
    CHECK(contains(r.out, "CreateContainerConfigError"));
    CHECK(!contains(r.out, "good.yaml:19"));  // USER 1001: passes without runAsUser
    // Both images looked up, each once.
    CHECK(f.registry.count("GET", "/acme/api/manifests/1.4.2") == 1);
    CHECK(f.registry.count("GET", "/acme/named/manifests/1.0") == 1);
  }
  SUBCASE("--no-image-lookup overrides the config: the spec alone passes") {
    const ProcessResult r =
        podguard({"check", "--config", f.config(true), "--no-image-lookup", (f.dir / "deploy").string()});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(f.registry.count("GET", "/manifests/") == 0);
  }
  SUBCASE("--image-lookup overrides images.lookup: false") {
    const ProcessResult r = podguard({"check", "--config", f.config(false), "--image-lookup", named});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "[run-as-non-root]"));
  }
  SUBCASE("manifests on standard input are looked up too") {
    std::ifstream in(named);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const ProcessResult r = podguard({"check", "--config", f.config(true), "-o", "json", "-"}, text);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(contains(r.out, "\"run-as-non-root\""));
    CHECK(contains(r.out, "CreateContainerConfigError"));
  }
  SUBCASE("a registry that refuses: images.onError decides, naming the registry") {
    const std::string refusing = refusing_host();
    const fs::path file = f.dir / "refused.yaml";
    std::ofstream(file) << deployment(refusing + "/acme/api:1.4.2");
    const ProcessResult warn = podguard({"check", "--config", f.config(true, "warn", refusing), file.string()});
    INFO(warn.out << warn.err);
    CHECK(warn.exit_code == 0);
    CHECK(contains(warn.out, "[image-resolvable]"));
    CHECK(contains(warn.out, refusing));
    const ProcessResult deny = podguard({"check", "--config", f.config(true, "deny", refusing), file.string()});
    CHECK(deny.exit_code == 1);
    const ProcessResult allow = podguard({"check", "--config", f.config(true, "allow", refusing), file.string()});
    CHECK(allow.exit_code == 0);
    CHECK(!contains(allow.out, "[image-resolvable]"));
  }
  SUBCASE("an images: block that cannot make a client is an input error") {
    const fs::path config = f.dir / "bad-ca.yaml";
    std::ofstream(config) << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nimages:\n  lookup: true\n"
                             "  caFile: /nonexistent/ca.crt\n";
    const ProcessResult r = podguard({"check", "--config", config.string(), named});
    CHECK(r.exit_code == 2);
    CHECK(contains(r.err, "/nonexistent/ca.crt"));
  }
}

TEST_CASE("podguard review with images.lookup answers as the webhook does") {
  Fixture f;
  const std::string review =
      R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u-1",)"
      R"("kind":{"group":"","version":"v1","kind":"Pod"},"namespace":"shop","operation":"CREATE","object":)"
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"api"},"spec":{"securityContext":{"runAsNonRoot":true},)"
      R"("containers":[{"name":"api","image":")" +
      f.registry.host() + R"(/acme/named:1.0"}]}}}})";
  const ProcessResult r = podguard({"review", "--config", f.config(true), "-"}, review);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "CreateContainerConfigError"));
  CHECK(contains(r.out, "\"images\": \"" + f.registry.host() + "/acme/named:1.0@sha256:"));
}

TEST_CASE("podguard check --image-lookup against Debian's docker-registry") {
  if (DockerRegistry::binary().empty()) {
    MESSAGE("skipping: Debian's docker-registry is not installed (apt-get install docker-registry)");
    return;
  }
  DockerRegistry registry;
  registry.push(single_image("acme/root", "2.0", labelled(std::nullopt)));  // no USER: root
  const fs::path dir = fs::temp_directory_path() / ("podguard-check-real-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "app.yaml") << deployment(registry.host() + "/acme/root:2.0");
  std::ofstream(dir / "config.yaml") << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nimages:\n"
                                        "  lookup: true\n  insecureRegistries: [" << registry.host() << "]\n";
  const ProcessResult r = podguard({"check", "--config", (dir / "config.yaml").string(), (dir / "app.yaml").string()});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "app.yaml:19:"));
  CHECK(contains(r.out, "[run-as-non-root]"));
  CHECK(contains(r.out, "[image-pinned]") == false);  // a release tag: pinned enough by default
  fs::remove_all(dir);
}

}  // namespace podguard::testing

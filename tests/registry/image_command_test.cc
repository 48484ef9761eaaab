// `podguard image REF...` run as a user runs it, against registries in the
// test process: findings from image configs, a reference the registry does
// not know, an index without the wanted platform, a registry that fails
// (images.onError allow, warn, deny), malformed references, output formats
// and exit codes.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "registry/fake_registry.h"
#include "subprocess.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

const std::string kBinary = PODGUARD_BINARY;

// A PolicyConfig whose images: block reaches `hosts` over plain HTTP.
std::string write_config(const fs::path& dir, const std::vector<std::string>& hosts, const std::string& extra = "") {
  std::string insecure;
  for (const std::string& h : hosts) insecure += (insecure.empty() ? "" : ", ") + h;
  const fs::path path = dir / "policy.yaml";
  std::ofstream(path) << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\nimages:\n"
                      << "  insecureRegistries: [" << insecure << "]\n  timeoutSeconds: 5\n" << extra;
  return path.string();
}

ProcessResult podguard(std::vector<std::string> args) {
  args.insert(args.begin(), kBinary);
  return testing::run_process(args);
}

struct Fixture {
  Fixture() : dir(fs::temp_directory_path() / ("podguard-image-cli-" + std::to_string(getpid()))) {
    fs::create_directories(dir);
    testing::ConfigSpec good;
    good.user = "1001:1001";
    good.healthcheck = std::vector<std::string>{"CMD", "/app/server", "healthcheck"};
    good.labels = {{"org.opencontainers.image.source", "https://github.com/org/app"},
                   {"org.opencontainers.image.revision", "abc"},
                   {"org.opencontainers.image.version", "1.0.0"}};
    registry.push(testing::single_image("team/good", "1.0", good));
    testing::ConfigSpec bad;
    bad.user = "root";
    bad.env.push_back("DB_PASSWORD=hunter2-in-image");
    bad.history = {"RUN /bin/sh -c apt-get install -y gcc # buildkit"};
    registry.push(testing::single_image("team/bad", "1.0", bad));
    testing::ConfigSpec arm = good;
    arm.architecture = "arm64";
    registry.push(testing::multi_platform("team/arm", "1.0", {arm}, false));
  }
  ~Fixture() { fs::remove_all(dir); }
  std::string ref(const std::string& repo_tag) const { return registry.host() + "/" + repo_tag; }

  fs::path dir;
  testing::FakeRegistry registry;
};

}  // namespace

TEST_CASE("podguard image judges image configs from the registry") {
  Fixture f;
  const std::string config = write_config(f.dir, {f.registry.host()});

  SUBCASE("a compliant image: exit 0, no findings") {
    const ProcessResult r = podguard({"image", "--config", config, f.ref("team/good:1.0")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("[image-") == std::string::npos);
    CHECK(r.out.find("podguard: 1 object (1 checked, 0 skipped): 0 denied, 0 warned") != std::string::npos);
  }
  SUBCASE("root, a secret in Env, gcc in history: findings; the secret's value never shown") {
    const ProcessResult r = podguard({"image", "--config", config, f.ref("team/bad:1.0")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);  // image-secrets is deny
    CHECK(r.out.find(f.ref("team/bad:1.0") +
                     ": warn[image-user] Image platform \"linux/amd64\": the image's USER \"root\"") !=
          std::string::npos);
    CHECK(r.out.find("deny[image-secrets]") != std::string::npos);
    CHECK(r.out.find("DB_PASSWORD") != std::string::npos);
    CHECK(r.out.find("hunter2-in-image") == std::string::npos);
    CHECK(r.out.find("warn[image-build-tools]") != std::string::npos);
    CHECK(r.out.find("warn[image-healthcheck]") != std::string::npos);
    CHECK(podguard({"image", "--config", config, "--fail-on", "never", f.ref("team/bad:1.0")}).exit_code == 0);
  }
  SUBCASE("a tag the registry does not know: image-resolvable denies") {
    const ProcessResult r = podguard({"image", "--config", config, f.ref("team/good:2.0")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("deny[image-resolvable]") != std::string::npos);
    CHECK(r.out.find("does not exist") != std::string::npos);
  }
  SUBCASE("an arm64-only index judged for linux/amd64: image-platform denies") {
    const ProcessResult r = podguard({"image", "--config", config, f.ref("team/arm:1.0")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("deny[image-platform]") != std::string::npos);
    CHECK(r.out.find("linux/arm64") != std::string::npos);
    const std::string arm = write_config(f.dir, {f.registry.host()}, "  platforms: [linux/arm64]\n");
    CHECK(podguard({"image", "--config", arm, f.ref("team/arm:1.0")}).exit_code == 0);
  }
  SUBCASE("several references, JSON and SARIF") {
    const ProcessResult r =
        podguard({"image", "--config", config, "-o", "json", f.ref("team/good:1.0"), f.ref("team/bad:1.0")});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(r.out.find("\"Image\"") != std::string::npos);
    CHECK(r.out.find("hunter2-in-image") == std::string::npos);
    CHECK(j.is_object());
    const ProcessResult s = podguard({"image", "--config", config, "-o", "sarif", f.ref("team/bad:1.0")});
    CHECK(s.exit_code == 1);
    CHECK(nlohmann::json::parse(s.out).at("runs").size() == 1);
    CHECK(s.out.find("\"image\"") != std::string::npos);  // rule tag
  }
  SUBCASE("a malformed reference is an input error, exit 2") {
    const ProcessResult r = podguard({"image", "--config", config, "nginx::1"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("nginx::1: error: not an image reference") != std::string::npos);
  }
}

TEST_CASE("podguard image applies images.onError to a registry that fails") {
  Fixture f;
  const std::string refusing = testing::refusing_host();
  const std::string ref = refusing + "/team/app:1.0";
  SUBCASE("warn: a warning naming the registry and the reason") {
    const std::string config = write_config(f.dir, {refusing}, "  onError: warn\n");
    const ProcessResult r = podguard({"image", "--config", config, ref});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("warn[image-resolvable]") != std::string::npos);
    CHECK(r.out.find("could not be looked up in " + refusing) != std::string::npos);
    CHECK(r.out.find("images.onError: warn") != std::string::npos);
    CHECK(podguard({"image", "--config", config, "--fail-on", "warn", ref}).exit_code == 1);
  }
  SUBCASE("deny: a deny finding") {
    const std::string config = write_config(f.dir, {refusing}, "  onError: deny\n");
    const ProcessResult r = podguard({"image", "--config", config, ref});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("deny[image-resolvable]") != std::string::npos);
    CHECK(r.out.find("images.onError: deny") != std::string::npos);
  }
  SUBCASE("allow: nothing") {
    const std::string config = write_config(f.dir, {refusing}, "  onError: allow\n");
    const ProcessResult r = podguard({"image", "--config", config, "--fail-on", "warn", ref});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("[image-resolvable]") == std::string::npos);
  }
}

}  // namespace podguard

// `podguard image --archive FILE` run as a user runs it: archives built in
// the test (registry/image_archives.h) judged as `podguard image REF` judges
// a registry's images: findings, platforms, output formats, exit codes,
// standard input, archives beside references, and input errors (exit 2)
// naming the archive and the entry.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "registry/fake_registry.h"
#include "registry/image_archives.h"
#include "subprocess.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;
using testing::ProcessResult;

ProcessResult podguard(std::vector<std::string> args, const std::string& input = {}) {
  args.insert(args.begin(), PODGUARD_BINARY);
  return testing::run_process(args, input);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

struct Fixture {
  Fixture() : dir(fs::temp_directory_path() / ("podguard-archive-cli-" + std::to_string(getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "policy.yaml") << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nprofile: contract\n";
    config = (dir / "policy.yaml").string();
    good = write("good.tar", testing::docker_save_legacy({{{"registry.example.com/team/good:1.0"},
                                                           testing::passing_image()}}));
    bad = write("bad.tar", testing::docker_save_legacy({{{"team/bad:1.0"}, testing::rule_breaking_spec()}}));
  }
  ~Fixture() { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& content) const {
    testing::write_file(dir / name, content);
    return (dir / name).string();
  }
  // A PolicyConfig judging `platforms` ("[]": every one).
  std::string platforms_config(const std::string& platforms) const {
    return write("platforms.yaml", "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nimages:\n  platforms: " +
                                       platforms + "\n");
  }

  fs::path dir;
  std::string config;
  std::string good;
  std::string bad;
};

}  // namespace

TEST_CASE("podguard image --archive judges the images of docker save tarballs") {
  Fixture f;
  SUBCASE("a compliant image: exit 0, no findings") {
    const ProcessResult r = podguard({"image", "--config", f.config, "--archive", f.good});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK_FALSE(has(r.out, "[image-"));
    CHECK(has(r.out, "podguard: 1 object (1 checked, 0 skipped): 0 denied, 0 warned"));
  }
  SUBCASE("root, a secret in Env, gcc, no HEALTHCHECK: findings under the RepoTag; the secret never shown") {
    const ProcessResult r = podguard({"image", "--archive", f.bad});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(has(r.out, "team/bad:1.0: warn[image-user] Image platform \"linux/amd64\": the image's USER \"root\""));
    CHECK(has(r.out, "deny[image-secrets]"));
    CHECK(has(r.out, "DB_PASSWORD"));
    CHECK_FALSE(has(r.out, "hunter2-in-archive"));
    CHECK(has(r.out, "warn[image-build-tools]"));
    CHECK(has(r.out, "warn[image-healthcheck]"));
    CHECK(has(r.out, "audit[image-labels]"));
    CHECK(podguard({"image", "--fail-on", "never", "--archive", f.bad}).exit_code == 0);
  }
  SUBCASE("several archives, gzip, JSON and SARIF, standard input") {
    const std::string gz = f.write("bad.tar.gz", testing::gzip(testing::docker_save_legacy(
                                                     {{{"team/bad:1.0"}, testing::rule_breaking_spec()}})));
    const ProcessResult r = podguard({"image", "-o", "json", "--archive", f.good, "--archive", gz});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    const nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j.is_object());
    CHECK(has(r.out, "\"team/bad:1.0\""));
    CHECK(has(r.out, "\"registry.example.com/team/good:1.0\""));
    CHECK_FALSE(has(r.out, "hunter2-in-archive"));
    const ProcessResult s = podguard({"image", "-o", "sarif", "--archive", f.bad});
    CHECK(s.exit_code == 1);
    CHECK(nlohmann::json::parse(s.out).at("runs").size() == 1);
    std::ifstream in(f.bad, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const ProcessResult piped = podguard({"image", "--archive", "-"}, bytes);
    INFO(piped.out << piped.err);
    CHECK(piped.exit_code == 1);
    CHECK(has(piped.out, "team/bad:1.0: warn[image-user]"));
  }
}

TEST_CASE("podguard image --archive on OCI layouts: platforms and attestations as for a registry") {
  Fixture f;
  testing::ConfigSpec arm = testing::passing_image();
  arm.architecture = "arm64";
  arm.user = "appuser";
  testing::OciLayout layout;
  layout.add(testing::multi_platform("team/multi", "2.0", {testing::passing_image(), arm}, true),
             {{"org.opencontainers.image.ref.name", "2.0"}})
      .seal();
  layout.write_to(f.dir / "oci");
  const std::string oci = (f.dir / "oci").string();
  SUBCASE("linux/amd64 (the default): compliant, the attestation not judged") {
    const ProcessResult r = podguard({"image", "--archive", oci});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(has(r.out, "podguard: 1 object (1 checked, 0 skipped)"));
  }
  SUBCASE("every platform: the arm64 image's non-numeric USER is named with its platform") {
    const ProcessResult r = podguard({"image", "--config", f.platforms_config("[]"), "--archive", oci});
    INFO(r.out << r.err);
    CHECK(has(r.out, oci + ":2.0: warn[image-user] Image platform \"linux/arm64\""));
    CHECK_FALSE(has(r.out, "unknown/unknown"));
  }
  SUBCASE("linux/s390x wanted: image-platform denies") {
    const ProcessResult r = podguard({"image", "--config", f.platforms_config("[linux/s390x]"), "--archive", oci});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(has(r.out, "deny[image-platform]"));
  }
  SUBCASE("as a tar") {
    const ProcessResult r = podguard({"image", "--archive", f.write("oci.tar", layout.tar())});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("podguard image --archive: unreadable archives are input errors naming the archive and the entry") {
  Fixture f;
  SUBCASE("truncated: exit 2, the other archives still judged") {
    const std::string tar = testing::docker_save_legacy({{{"team/cut:1"}, testing::passing_image()}});
    const std::string cut = f.write("cut.tar", tar.substr(0, tar.find("\"architecture\"")));
    const ProcessResult r = podguard({"image", "--archive", cut, "--archive", f.bad});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, cut + ": error: entry "));
    CHECK(has(r.err, "the archive ends inside its content (a truncated file)"));
    CHECK(has(r.out, "team/bad:1.0: warn[image-user]"));
  }
  SUBCASE("a path that climbs out") {
    const std::string up = f.write("up.tar", testing::TarWriter().file("../x", "x").finish());
    const ProcessResult r = podguard({"image", "--archive", up});
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, up + ": error: entry ../x: a path that climbs out of the archive (..)"));
  }
  SUBCASE("not a tar, a missing file") {
    const ProcessResult r = podguard({"image", "--archive", f.config});
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, f.config + ": error: not a tar archive"));
    CHECK(podguard({"image", "--archive", (f.dir / "nope.tar").string()}).exit_code == 2);
  }
  SUBCASE("neither references nor --archive") {
    const ProcessResult r = podguard({"image"});
    CHECK(r.exit_code == 2);
    CHECK(has(r.err, "give image references, --archive FILE, or both"));
  }
}

TEST_CASE("podguard image REF --archive FILE: registry images and archives in one report") {
  Fixture f;
  testing::FakeRegistry registry;
  testing::ConfigSpec good = testing::passing_image();
  registry.push(testing::single_image("team/good", "1.0", good));
  std::ofstream(f.dir / "reg.yaml") << "apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\nimages:\n"
                                    << "  insecureRegistries: [" << registry.host() << "]\n";
  const std::string ref = registry.host() + "/team/good:1.0";
  const ProcessResult r = podguard({"image", "--config", (f.dir / "reg.yaml").string(), ref, "--archive", f.bad});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);
  CHECK(has(r.out, "podguard: 2 objects (2 checked, 0 skipped)"));
  CHECK(has(r.out, "team/bad:1.0: warn[image-user]"));
  CHECK_FALSE(has(r.out, ref + ": "));
}

}  // namespace podguard

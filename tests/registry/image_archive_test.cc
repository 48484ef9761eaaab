// The image archive reader (registry/image_archive.h) on archives built
// here: legacy and Docker 25 `docker save` tarballs, OCI layouts as
// directories and tars, gzip, GNU long names and pax paths, several images,
// an index with two platforms and an attestation; and hostile archives,
// each refused with a message naming the archive and the entry.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>

#include "registry/image_archive.h"
#include "registry/image_archives.h"

namespace podguard {
namespace {

namespace fs = std::filesystem;
using registry::ArchiveImage;
using registry::ArchiveOptions;
using registry::read_image_archive;
using namespace testing;

struct TempDir {
  TempDir() : path(fs::temp_directory_path() / ("podguard-archive-" + std::to_string(getpid()))) {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& content) const {
    write_file(path / name, content);
    return (path / name).string();
  }
  fs::path path;
};

ArchiveOptions amd64() {
  ArchiveOptions o;
  o.platforms = {ImagePlatform{"linux", "amd64", ""}};
  return o;
}

std::vector<ArchiveImage> images_of(const std::string& path, const ArchiveOptions& options = amd64()) {
  auto r = read_image_archive(path, options);
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  for (const ArchiveImage& i : *r) {
    INFO(i.reference << ": " << i.facts.status().to_string());
    REQUIRE(i.facts.ok());
  }
  return std::move(*r);
}

// The archive's error, or its first image's: "file: message".
std::string error_of(const std::string& path, const ArchiveOptions& options = amd64()) {
  auto r = read_image_archive(path, options);
  if (!r.ok()) return r.error().to_string();
  for (const ArchiveImage& i : *r) {
    if (!i.facts.ok()) return i.facts.error().to_string();
  }
  return "";
}

// The same entries with the bytes of the one named `name` replaced.
std::string legacy_with(const std::string& name, const std::string& content) {
  const Blob config = config_blob(passing_image());
  TarWriter t;
  const std::string config_name = hex_of(config.digest) + ".json";
  t.file(config_name, name == config_name ? content : config.content);
  const std::string manifest =
      R"([{"Config":")" + config_name + R"(","RepoTags":["app:1.0"],"Layers":["l/layer.tar"]}])";
  t.file("manifest.json", name == "manifest.json" ? content : manifest);
  return t.finish();
}

}  // namespace

TEST_CASE("legacy docker save: the config digest, RepoTags, each image of a multi-image archive") {
  TempDir dir;
  ConfigSpec arm = passing_image();
  arm.architecture = "arm64";
  const std::string tar = docker_save_legacy(
      {{{"registry.example.com/team/app:1.0", "registry.example.com/team/app:latest"}, passing_image()},
       {{}, rule_breaking_spec()},
       {{"arm:1"}, arm}});
  const std::string path = dir.write("app.tar", tar);
  const std::vector<ArchiveImage> images = images_of(path);
  REQUIRE(images.size() == 3);
  const ImageFacts& first = **images[0].facts;
  CHECK(images[0].reference == "registry.example.com/team/app:1.0");
  CHECK(first.digest == config_blob(passing_image()).digest);
  CHECK(first.name == "registry.example.com/team/app");
  CHECK_FALSE(first.multi_platform);
  REQUIRE(first.images.size() == 1);
  CHECK(first.images[0].config->user == "1001:1001");
  CHECK(first.images[0].platform.to_string() == "linux/amd64");
  // No RepoTags: the archive and the digest.
  CHECK(images[1].reference == path + "@" + config_blob(rule_breaking_spec()).digest);
  CHECK((*images[1].facts)->images[0].config->user == "root");
  // arm64 only, amd64 wanted: offered, none judged (image-platform's case).
  CHECK((*images[2].facts)->offered.size() == 1);
  CHECK((*images[2].facts)->images.empty());

  SUBCASE("gzip-compressed, and from an unpacked directory, alike") {
    const std::vector<ArchiveImage> gz = images_of(dir.write("app.tar.gz", gzip(tar)));
    CHECK(gz.size() == 3);
    CHECK((*gz[0].facts)->digest == first.digest);
  }
}

TEST_CASE("GNU long names and pax paths name entries") {
  TempDir dir;
  const Blob config = config_blob(passing_image());
  const std::string deep = std::string(120, 'd') + "/" + hex_of(config.digest) + ".json";
  TarWriter t;
  t.long_name_file(deep, config.content);
  t.pax_file("manifest.json", R"([{"Config":")" + deep + R"(","RepoTags":["app:1"],"Layers":[]}])");
  const std::vector<ArchiveImage> images = images_of(dir.write("long.tar", t.finish()));
  REQUIRE(images.size() == 1);
  CHECK((*images[0].facts)->digest == config.digest);
}

TEST_CASE("OCI layouts: directories and tars, names from annotations, digests of manifests") {
  TempDir dir;
  const Push single = single_image("team/app", "1.0", passing_image(), true);
  ConfigSpec arm = passing_image();
  arm.architecture = "arm64";
  arm.variant = "v8";
  arm.user = "0";
  const Push multi = multi_platform("team/multi", "2.0", {passing_image(), arm}, /*attestation=*/true);
  OciLayout layout;
  layout.add(single, {{"org.opencontainers.image.ref.name", "1.0"}})
      .add(multi, {{"io.containerd.image.name", "docker.io/team/multi:2.0"},
                   {"org.opencontainers.image.ref.name", "2.0"}})
      .add(single)
      .seal();
  const fs::path oci = dir.path / "oci";
  layout.write_to(oci);

  const std::vector<ArchiveImage> images = images_of(oci.string());
  REQUIRE(images.size() == 3);
  CHECK(images[0].reference == oci.string() + ":1.0");  // a bare tag, skopeo's dir:tag
  CHECK((*images[0].facts)->digest == single.digest());
  CHECK(images[1].reference == "docker.io/team/multi:2.0");
  CHECK(images[2].reference == oci.string() + "@" + single.digest());

  SUBCASE("an index with two platforms and an attestation: the wanted platform, attestation left out") {
    const ImageFacts& facts = **images[1].facts;
    CHECK(facts.digest == multi.digest());
    CHECK(facts.multi_platform);
    REQUIRE(facts.offered.size() == 2);
    CHECK(facts.offered[1].to_string() == "linux/arm64/v8");
    REQUIRE(facts.images.size() == 1);
    CHECK(facts.images[0].platform.to_string() == "linux/amd64");
    CHECK(facts.images[0].manifest_digest == multi.manifests[0].digest);

    const std::vector<ArchiveImage> all = images_of(oci.string(), ArchiveOptions{});
    REQUIRE((*all[1].facts)->images.size() == 2);
    CHECK((*all[1].facts)->images[1].config->user == "0");
  }
  SUBCASE("the same layout as a tar (Docker 25's docker save: manifest.json beside it is not read)") {
    const std::vector<ArchiveImage> tarred = images_of(dir.write("oci.tar", layout.tar("[not read]")));
    REQUIRE(tarred.size() == 3);
    CHECK((*tarred[1].facts)->digest == multi.digest());
  }
  SUBCASE("Docker 25 links legacy paths to blobs: a link inside the archive is followed") {
    TarWriter t;
    const Blob config = config_blob(passing_image());
    t.file("blobs/sha256/" + hex_of(config.digest), config.content);
    t.symlink(hex_of(config.digest) + ".json", "blobs/sha256/" + hex_of(config.digest));
    t.file("manifest.json", R"([{"Config":")" + hex_of(config.digest) + R"(.json","RepoTags":["a:1"]}])");
    CHECK(images_of(dir.write("links.tar", t.finish())).size() == 1);
  }
}

TEST_CASE("hostile and broken archives: an error naming the archive and the entry, never a crash") {
  TempDir dir;
  const std::string good = docker_save_legacy({{{"app:1"}, passing_image()}});
  const std::string config_name = hex_of(config_blob(passing_image()).digest) + ".json";

  SUBCASE("truncated inside an entry, inside a header, or before the end blocks") {
    const std::string path = dir.write("cut.tar", good.substr(0, good.find("\"architecture\"") + 10));
    CHECK(error_of(path) == path + ": entry " + config_name + ": the archive ends inside its content (a truncated file)");
    const std::string header = dir.write("cut-header.tar", good.substr(0, 512 * 3 + 100));
    CHECK(error_of(header).find("ends inside a header at offset") != std::string::npos);
    const std::string end = dir.write("no-end.tar", good.substr(0, good.size() - 1024));
    CHECK(error_of(end).find("without its end-of-archive blocks") != std::string::npos);
    const std::string gz = gzip(good);
    const std::string gzcut = dir.write("cut.tar.gz", gz.substr(0, gz.size() / 2));
    CHECK(error_of(gzcut).find("gzip stream ends early") != std::string::npos);
  }
  SUBCASE("a header with a bad checksum") {
    std::string bad = good;
    bad[512 + 3] ^= 0x20;  // the second header (after a directory entry)
    const std::string path = dir.write("sum.tar", bad);
    CHECK(error_of(path).find(path + ": the header at offset 512 (after entry ") != std::string::npos);
    CHECK(error_of(path).find("bad checksum") != std::string::npos);
  }
  SUBCASE("paths that climb out, or absolute ones") {
    const std::string up = dir.write("up.tar", TarWriter().file("../../etc/cron.d/x", "x").finish());
    CHECK(error_of(up) == up + ": entry ../../etc/cron.d/x: a path that climbs out of the archive (..)");
    const std::string inner = dir.write("inner.tar", TarWriter().file("a/../../x", "x").finish());
    CHECK(error_of(inner).find("entry a/../../x: a path that climbs out") != std::string::npos);
    const std::string abs = dir.write("abs.tar", TarWriter().file("/etc/passwd", "x").finish());
    CHECK(error_of(abs) == abs + ": entry /etc/passwd: an absolute path");
  }
  SUBCASE("a needed entry that is a link out of the archive") {
    const std::string out = dir.write("link.tar", TarWriter().symlink("manifest.json", "../../etc/passwd").finish());
    CHECK(error_of(out) == out + ": entry manifest.json: a link to ../../etc/passwd, outside the archive");
    const std::string abs = dir.write("abslink.tar", TarWriter().symlink("manifest.json", "/etc/passwd").finish());
    CHECK(error_of(abs).find("entry manifest.json: a link to /etc/passwd, outside the archive") != std::string::npos);
    TarWriter loop;
    loop.symlink("manifest.json", "a").symlink("a", "manifest.json");
    CHECK(error_of(dir.write("loop.tar", loop.finish())).find("more than 8 links in a row") != std::string::npos);
  }
  SUBCASE("a blob whose bytes are not what its name says") {
    const Push p = single_image("team/app", "1.0", passing_image(), true);
    OciLayout layout;
    layout.add(p).seal();
    const std::string config_path = "blobs/sha256/" + hex_of(p.blobs[0].digest);
    layout.files[config_path].replace(layout.files[config_path].find("1001"), 4, "0000");
    const std::string path = dir.write("tampered.tar", layout.tar());
    const std::string e = error_of(path);
    CHECK(e.find(path + ": entry " + config_path + ": its content's digest is sha256:") == 0);
    CHECK(e.find("not " + p.blobs[0].digest + " (a corrupt or altered archive)") != std::string::npos);
    const std::string legacy = dir.write("tampered-legacy.tar", legacy_with(config_name, "{\"os\":\"linux\"}"));
    CHECK(error_of(legacy).find("entry " + config_name + ": its content's digest is") != std::string::npos);
  }
  SUBCASE("a config or a manifest that is not there") {
    TarWriter t;
    t.file("manifest.json", R"([{"Config":")" + config_name + R"(","RepoTags":["a:1"]}])");
    const std::string path = dir.write("noconfig.tar", t.finish());
    CHECK(error_of(path) == path + ": no entry " + config_name + " (an image config) in the archive");
    const Push p = single_image("team/app", "1.0", passing_image(), true);
    OciLayout layout;
    layout.add(p).seal();
    layout.files.erase("blobs/sha256/" + hex_of(p.digest()));
    const std::string oci = dir.write("noblob.tar", layout.tar());
    CHECK(error_of(oci) == oci + ": no entry blobs/sha256/" + hex_of(p.digest()) + " (a manifest) in the archive");
    const std::string neither = dir.write("neither.tar", TarWriter().file("x.json", "{}").finish());
    CHECK(error_of(neither).find("neither index.json (an OCI image layout) nor manifest.json") != std::string::npos);
    TarWriter nolayout;
    nolayout.file("index.json", layout.files["index.json"]);
    CHECK(error_of(dir.write("nolayout.tar", nolayout.finish())).find("no oci-layout file") != std::string::npos);
  }
  SUBCASE("a 10 MB manifest.json is over the limit, and so is a huge pax header") {
    const std::string huge = "[" + std::string(10 << 20, ' ') + "]";
    const std::string path = dir.write("huge.tar", legacy_with("manifest.json", huge));
    CHECK(error_of(path) == path + ": entry manifest.json: " + std::to_string(huge.size()) +
                                 " bytes, over the limit of 4194304 for docker save's manifest");
    TarWriter t;
    t.pax({{"comment", std::string(2 << 20, 'p')}}).file("manifest.json", "[]");
    CHECK(error_of(dir.write("pax.tar", t.finish())).find("a pax header of ") != std::string::npos);
  }
  SUBCASE("not a tar, empty, compressed with what is not read here, a directory without a layout") {
    const std::string text = dir.write("notes.txt", std::string(2000, 'n'));
    CHECK(error_of(text) == text + ": not a tar archive (its first block is no tar header)");
    CHECK(error_of(dir.write("empty.tar", "")).find("an empty file, not a tar archive") != std::string::npos);
    const std::string zst = dir.write("a.tar.zst", std::string("\x28\xb5\x2f\xfd", 4) + std::string(600, '\0'));
    CHECK(error_of(zst) == zst + ": zstd-compressed archive: decompress it first (zstd -d)");
    CHECK(error_of(dir.write("garbage.gz", "\x1f\x8b" + std::string(100, 'g'))).find("corrupt gzip data") !=
          std::string::npos);
    fs::create_directories(dir.path / "emptydir");
    CHECK(error_of((dir.path / "emptydir").string()).find("neither index.json") != std::string::npos);
    CHECK(error_of((dir.path / "missing.tar").string()).find("cannot open it") != std::string::npos);
  }
  SUBCASE("an entry twice, a manifest.json that is not a list, a Config not named by a digest") {
    TarWriter twice;
    twice.file("manifest.json", "[]").file("manifest.json", "[]");
    CHECK(error_of(dir.write("twice.tar", twice.finish())).find("entry manifest.json: appears twice") !=
          std::string::npos);
    CHECK(error_of(dir.write("obj.tar", legacy_with("manifest.json", "{}"))).find("not a list of images") !=
          std::string::npos);
    CHECK(error_of(dir.write("nojson.tar", legacy_with("manifest.json", "[{\"Config\": x}]")))
              .find("entry manifest.json: not valid JSON") != std::string::npos);
    const std::string named = dir.write(
        "named.tar", legacy_with("manifest.json", R"([{"Config":"../config.json","RepoTags":["a:1"]}])"));
    CHECK(error_of(named).find("[0].Config \"../config.json\" is not a config named by its digest") !=
          std::string::npos);
    CHECK(error_of(dir.write("none.tar", legacy_with("manifest.json", "[]"))).find("holds no image") !=
          std::string::npos);
  }
  SUBCASE("what the archive says reaches a message as printable ASCII only (as fuzz_image_archive checks)") {
    // index.json is not checked against a digest; its mediaType was quoted
    // as it was, terminal escapes included.
    TarWriter t;
    t.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
    t.file("index.json", R"({"schemaVersion":2,"mediaType":"\u001b]0;pwned\u0007\u001b[31mred\u00e9","manifests":[]})");
    const std::string path = dir.write("escapes.tar", t.finish());
    CHECK(error_of(path) == path + ": entry index.json: the manifest's media type \"?]0;pwned??[31mred??\" is not "
                                   "an image manifest or index");
    // An index entry's platform, quoted when its manifest is no image's.
    const Blob chart = blob("{}", "application/vnd.cncf.helm.config.v1+json");
    const ManifestDoc m = image_manifest(chart, {}, true, "");
    const nlohmann::ordered_json entry = {{"mediaType", m.media_type},
                                          {"digest", m.digest},
                                          {"size", m.content.size()},
                                          {"platform", {{"os", "linux\x1b[2J"}, {"architecture", "amd64"}}}};
    const Blob index = blob(nlohmann::ordered_json({{"schemaVersion", 2},
                                                    {"mediaType", media_type::kOciIndex},
                                                    {"manifests", nlohmann::ordered_json::array({entry})}})
                                .dump(),
                            std::string(media_type::kOciIndex));
    OciLayout layout;
    for (const Blob& b : {chart, Blob{m.digest, m.content, m.media_type}, index}) {
      layout.files["blobs/sha256/" + hex_of(b.digest)] = b.content;
    }
    layout.entries.push_back(
        {{"mediaType", index.media_type}, {"digest", index.digest}, {"size", index.content.size()}});
    layout.seal();
    const std::string platform = dir.write("platform.tar", layout.tar());
    CHECK(error_of(platform, ArchiveOptions{}) ==
          platform + ": the linux?[2J/amd64 entry " + m.digest +
              " is not a container image (its config is \"application/vnd.cncf.helm.config.v1+json\")");
  }
  SUBCASE("a config the parser refuses: the message names the key") {
    const std::string bad = R"({"architecture":"amd64","os":"linux","config":{"User":7}})";
    const std::string name = hex_of(sha256(bad)) + ".json";
    TarWriter t;
    t.file(name, bad);
    t.file("manifest.json", R"([{"Config":")" + name + R"(","RepoTags":["a:1"]}])");
    const std::string path = dir.write("user.tar", t.finish());
    CHECK(error_of(path) == path + ": entry " + name + ": config.User: is not a string");
  }
  SUBCASE("one bad image does not hide the others") {
    TarWriter t;
    const Blob config = config_blob(passing_image());
    t.file(hex_of(config.digest) + ".json", config.content);
    t.file("manifest.json", R"([{"Config":")" + hex_of(config.digest) + R"(.json","RepoTags":["good:1"]},)" +
                                R"({"Config":")" + std::string(64, 'a') + R"(.json","RepoTags":["bad:1"]}])");
    auto r = read_image_archive(dir.write("half.tar", t.finish()), amd64());
    REQUIRE(r.ok());
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].facts.ok());
    CHECK_FALSE((*r)[1].facts.ok());
  }
}

}  // namespace podguard

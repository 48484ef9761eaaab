#include "engine/reading/image_manifest.h"

#include <doctest/doctest.h>

namespace podguard {
namespace {

// Shaped like what Docker Hub serves for a single-platform image pushed by
// docker push (Docker v2 schema 2).
constexpr const char* kDockerManifest = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 7023,
      "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"
   },
   "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
       "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"},
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 16724,
       "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b"}
   ]
})";

// A Docker manifest list like nginx's on Docker Hub (keys in Go's order).
constexpr const char* kDockerManifestList = R"({"manifests":[
  {"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","mediaType":"application/vnd.docker.distribution.manifest.v2+json","platform":{"architecture":"amd64","os":"linux"},"size":1778},
  {"digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","mediaType":"application/vnd.docker.distribution.manifest.v2+json","platform":{"architecture":"arm","os":"linux","variant":"v7"},"size":1778},
  {"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","mediaType":"application/vnd.docker.distribution.manifest.v2+json","platform":{"architecture":"arm64","os":"linux","variant":"v8"},"size":1778},
  {"digest":"sha256:4444444444444444444444444444444444444444444444444444444444444444","mediaType":"application/vnd.docker.distribution.manifest.v2+json","platform":{"architecture":"amd64","os":"windows","os.version":"10.0.17763.5458"},"size":1778}
 ],"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","schemaVersion":2})";

// What docker buildx build --platform linux/amd64,linux/arm64 --push makes:
// an OCI index with an attestation manifest per platform.
constexpr const char* kBuildxIndex = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "size": 673,
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "size": 673,
     "platform": {"architecture": "arm64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "size": 566,
     "annotations": {"vnd.docker.reference.digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                     "vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", "size": 566,
     "annotations": {"vnd.docker.reference.digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                     "vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}}
  ]
})";

ImagePlatform platform(const char* text) {
  auto p = parse_platform(text);
  REQUIRE_MESSAGE(p.ok(), p.status().to_string());
  return *p;
}

TEST_CASE("a Docker v2 schema 2 manifest: its config and layer count") {
  auto m = parse_image_manifest(kDockerManifest, "application/vnd.docker.distribution.manifest.v2+json");
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  CHECK_FALSE(m->is_index());
  CHECK(m->media_type == media_type::kDockerManifest);
  CHECK(m->has_image_config());
  CHECK(m->config.digest == "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7");
  CHECK(m->config.size == 7023);
  CHECK(m->layer_count == 2);
}

TEST_CASE("an OCI manifest without mediaType is recognised by the header or its shape") {
  const char* text = R"({"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json",
    "digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":2},"layers":[]})";
  for (const char* content_type :
       {"application/vnd.oci.image.manifest.v1+json", "", "application/json; charset=utf-8"}) {
    INFO(content_type);
    auto m = parse_image_manifest(text, content_type);
    REQUIRE_MESSAGE(m.ok(), m.status().to_string());
    CHECK(m->media_type == media_type::kOciManifest);
    CHECK(m->has_image_config());
    CHECK(m->layer_count == 0);
  }
}

TEST_CASE("a Helm chart or signature stored as an OCI artifact is no container image") {
  auto m = parse_image_manifest(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
    "config":{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7","size":117},
    "layers":[]})");
  REQUIRE(m.ok());
  CHECK_FALSE(m->has_image_config());
}

TEST_CASE("a Docker manifest list: platforms in order, chosen as runtimes choose") {
  auto m = parse_image_manifest(kDockerManifestList);
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  REQUIRE(m->is_index());
  REQUIRE(m->manifests.size() == 4);
  const auto offered = offered_platforms(*m);
  REQUIRE(offered.size() == 4);
  CHECK(offered[1].to_string() == "linux/arm/v7");
  CHECK(offered[3].to_string() == "windows/amd64");

  auto chosen = select_platforms(*m, {platform("linux/arm64")});
  REQUIRE(chosen.size() == 1);
  CHECK(chosen[0]->digest.substr(7, 4) == "3333");
  chosen = select_platforms(*m, {platform("linux/arm64/v8"), platform("linux/amd64"), platform("linux/s390x")});
  REQUIRE(chosen.size() == 2);  // s390x is not offered
  CHECK(chosen[0]->digest.substr(7, 4) == "3333");
  CHECK(chosen[1]->digest.substr(7, 4) == "1111");
  CHECK(select_platforms(*m, {platform("linux/arm/v6")}).empty());
  CHECK(select_platforms(*m, {platform("linux/arm")}).size() == 1);  // no variant wanted: any
  CHECK(select_platforms(*m, {platform("windows/amd64")}).front()->digest.substr(7, 4) == "4444");
  // One entry answers two spellings of the same platform once.
  CHECK(select_platforms(*m, {platform("linux/amd64"), platform("linux/x86_64")}).size() == 1);
}

TEST_CASE("a buildx OCI index: attestation entries are never offered nor chosen") {
  auto m = parse_image_manifest(kBuildxIndex, "application/vnd.oci.image.index.v1+json");
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  REQUIRE(m->manifests.size() == 4);
  CHECK_FALSE(m->manifests[0].attestation);
  CHECK(m->manifests[2].attestation);
  CHECK(m->manifests[3].attestation);
  const auto offered = offered_platforms(*m);
  REQUIRE(offered.size() == 2);
  CHECK(offered[0].to_string() == "linux/amd64");
  CHECK(offered[1].to_string() == "linux/arm64");
  CHECK(select_platforms(*m, {platform("unknown/unknown")}).empty());
  const auto chosen = select_platforms(*m, {platform("linux/arm64/v8")});
  REQUIRE(chosen.size() == 1);
  CHECK(chosen[0]->digest.substr(7, 4) == "bbbb");
}

TEST_CASE("an attestation is recognised by its annotation alone") {
  auto m =
      parse_image_manifest(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
    {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","size":1,
     "annotations":{"vnd.docker.reference.type":"attestation-manifest"},"platform":{"architecture":"amd64","os":"linux"}}]})");
  REQUIRE(m.ok());
  CHECK(m->manifests[0].attestation);
  CHECK(offered_platforms(*m).empty());
  CHECK(select_platforms(*m, {platform("linux/amd64")}).empty());
}

TEST_CASE("platforms: os/architecture[/variant], anything else says how to write one") {
  CHECK(platform("linux/amd64") == ImagePlatform{"linux", "amd64", ""});
  CHECK(platform("linux/arm64/v8") == ImagePlatform{"linux", "arm64", "v8"});
  for (const char* bad : {"", "linux", "linux/", "/amd64", "linux/amd64/", "linux/amd64/v8/x", "Linux/amd64",
                          "linux/amd 64", "linux//v8"}) {
    INFO(bad);
    auto p = parse_platform(bad);
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message().find("os/architecture[/variant]") != std::string::npos);
  }
  CHECK(platform_matches(platform("linux/arm64"), platform("linux/arm64/v8")));
  CHECK(platform_matches(platform("linux/arm64/v8"), ImagePlatform{"linux", "arm64", ""}));
  CHECK(platform_matches(platform("linux/amd64"), ImagePlatform{"linux", "x86_64", ""}));
  CHECK_FALSE(platform_matches(platform("linux/arm/v7"), platform("linux/arm/v6")));
  CHECK_FALSE(platform_matches(platform("linux/amd64"), platform("windows/amd64")));
}

TEST_CASE("manifests podguard cannot use are invalid input saying why, quoting no content") {
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {R"({"schemaVersion":1,"name":"library/app","tag":"SECRET","fsLayers":[]})", "schema 1"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.artifact.manifest.v1+json","blobs":[]})",
       "not an image manifest or index"},
      {R"({"schemaVersion":2})", "neither an image manifest nor an index"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"})", "no manifests list"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]})", "no config"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"../../SECRET"}})",
       "config.digest"},
      {R"({"manifests":[{"digest":"sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"}]})",
       "manifests[0].digest"},
      {R"({"manifests":[{"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","platform":"linux/SECRET"}]})",
       "manifests[0].platform"},
      {R"({"manifests":[{"digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":-1}]})",
       "manifests[0].size"},
      {R"({"mediaType":["SECRET"]})", "mediaType"},
      {R"([{"SECRET":1}])", "not a JSON object"},
      {R"({"SECRET":)", "not valid JSON"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto m = parse_image_manifest(c.text);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code() == StatusCode::kInvalidInput);
    CHECK(m.error().to_string().find(c.why) != std::string::npos);
    CHECK(m.error().to_string().find("SECRET") == std::string::npos);
  }
}

TEST_CASE("digests: only algorithm:hex of the right length goes into a request path") {
  CHECK(digest_problem("sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7").empty());
  CHECK(digest_problem("sha512:" + std::string(128, 'a')).empty());
  for (const std::string& bad :
       std::vector<std::string>{"", "sha256", "sha256:", ":abc", "sha256:abc", "sha256:" + std::string(63, 'a'),
                                "sha256:" + std::string(64, 'A'), "sha256:../../../../v2/_catalog",
                                "sha512:" + std::string(64, 'a'), "sha/256:" + std::string(64, 'a')}) {
    INFO(bad);
    CHECK_FALSE(digest_problem(bad).empty());
  }
}

}  // namespace
}  // namespace podguard

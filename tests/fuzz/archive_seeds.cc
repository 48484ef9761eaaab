// Writes the seeds of fuzz_image_archive into a folder, built with the
// registry tests' own archive writer (tests/registry/image_archives.h) so
// they are archives the reader accepts. The kept copies are in
// tests/fuzz/corpus/archives; after a change to the writer:
//   build-fuzz/tests/fuzz/fuzz_archive_seeds tests/fuzz/corpus/archives
#include <filesystem>
#include <iostream>
#include <string>

#include "registry/image_archives.h"

int main(int argc, char** argv) {
  using namespace podguard::testing;
  if (argc != 2) {
    std::cerr << "usage: fuzz_archive_seeds FOLDER\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);

  ConfigSpec arm = passing_image();
  arm.architecture = "arm64";
  arm.variant = "v8";
  const std::string legacy =
      docker_save_legacy({{{"registry.example.com/team/app:1.0"}, passing_image()}, {{}, rule_breaking_spec()}});
  write_file(dir / "legacy.tar", legacy);
  write_file(dir / "legacy.tar.gz", gzip(legacy));

  // OCI: a single image named by a bare tag, and an index of two platforms
  // and an attestation named by containerd's annotation.
  OciLayout layout;
  layout.add(single_image("team/app", "1.0", passing_image(), true), {{"org.opencontainers.image.ref.name", "1.0"}})
      .add(multi_platform("team/multi", "2.0", {passing_image(), arm}, /*attestation=*/true),
           {{"io.containerd.image.name", "docker.io/team/multi:2.0"}})
      .seal();
  write_file(dir / "oci.tar", layout.tar());

  // Docker 25: the OCI layout, manifest.json beside it, a legacy path
  // linked to its blob.
  const Blob config = config_blob(passing_image());
  OciLayout docker25;
  docker25.add(single_image("team/app", "2.0", passing_image())).seal();
  TarWriter links;
  links.file("blobs/sha256/" + hex_of(config.digest), config.content);
  links.symlink(hex_of(config.digest) + ".json", "blobs/sha256/" + hex_of(config.digest));
  links.file("manifest.json", R"([{"Config":")" + hex_of(config.digest) + R"(.json","RepoTags":["a:1"]}])");
  write_file(dir / "links.tar", links.finish());
  write_file(dir / "docker25.tar", docker25.tar(R"([{"Config":"blobs/sha256/)" + hex_of(config.digest) +
                                                R"(","RepoTags":["team/app:2.0"],"Layers":[]}])"));

  // An index entry that is no image (a Helm chart's manifest).
  const Blob chart = blob("{}", "application/vnd.cncf.helm.config.v1+json");
  const ManifestDoc chart_manifest = image_manifest(chart, {}, true, "");
  OciLayout charts;
  charts.files["blobs/sha256/" + hex_of(chart.digest)] = chart.content;
  charts.files["blobs/sha256/" + hex_of(chart_manifest.digest)] = chart_manifest.content;
  charts.entries.push_back({{"mediaType", chart_manifest.media_type},
                            {"digest", chart_manifest.digest},
                            {"size", chart_manifest.content.size()},
                            {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}});
  write_file(dir / "chart.tar", charts.seal().tar());

  // GNU long names and pax paths.
  TarWriter names;
  const std::string deep = std::string(120, 'd') + "/" + hex_of(config.digest) + ".json";
  names.long_name_file(deep, config.content);
  names.pax_file("manifest.json", R"([{"Config":")" + deep + R"(","RepoTags":["app:1"],"Layers":[]}])");
  write_file(dir / "long-names.tar", names.finish());
  return 0;
}

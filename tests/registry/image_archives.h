// Image archives built in the tests, so each test states what it holds: a
// tiny tar writer (ustar headers, GNU long names, pax records, links, and
// ways to break each), `docker save` tarballs (Docker 20.10's legacy
// layout, Docker 25's OCI layout with manifest.json beside it) and OCI
// image layouts as directories or tars, from the same Push values the
// registry tests push.
#pragma once

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "registry/test_images.h"

namespace podguard::testing {

class TarWriter {
 public:
  // A header block for `name` (ustar; GNU magic when `gnu`), then `content`
  // padded to the block size.
  TarWriter& entry(const std::string& name, const std::string& content, char type = '0',
                   const std::string& link = "", bool gnu = false) {
    std::string h(512, '\0');
    h.replace(0, std::min<std::size_t>(name.size(), 100), name.substr(0, 100));
    octal(h, 100, 8, 0644);
    octal(h, 108, 8, 0);
    octal(h, 116, 8, 0);
    octal(h, 124, 12, content.size());
    octal(h, 136, 12, 1714557600);
    h[156] = type;
    h.replace(157, std::min<std::size_t>(link.size(), 100), link.substr(0, 100));
    if (gnu) {
      h.replace(257, 8, std::string("ustar  \0", 8));
    } else {
      h.replace(257, 8, std::string("ustar\0" "00", 8));
    }
    h.replace(148, 8, "        ");
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    char field[8];
    std::snprintf(field, sizeof field, "%06o", sum);
    h.replace(148, 7, std::string(field, 6) + '\0');
    out_ += h;
    out_ += content;
    out_ += std::string((512 - content.size() % 512) % 512, '\0');
    return *this;
  }
  TarWriter& file(const std::string& name, const std::string& content) { return entry(name, content); }
  TarWriter& directory(const std::string& name) { return entry(name, "", '5'); }
  TarWriter& symlink(const std::string& name, const std::string& target) { return entry(name, "", '2', target); }
  // A GNU ././@LongLink entry carrying `name`, then the file under a cut name.
  TarWriter& long_name_file(const std::string& name, const std::string& content) {
    entry("././@LongLink", name + '\0', 'L', "", true);
    return entry(name.substr(0, 99), content, '0', "", true);
  }
  // A pax header whose path= record names the file that follows.
  TarWriter& pax_file(const std::string& name, const std::string& content) {
    return pax({{"path", name}}).entry("PaxHeaders/cut", content);
  }
  TarWriter& pax(const std::vector<std::pair<std::string, std::string>>& records) {
    std::string body;
    for (const auto& [k, v] : records) {
      const std::string rest = " " + k + "=" + v + "\n";
      std::size_t len = rest.size() + 1;
      while (std::to_string(len).size() + rest.size() != len) ++len;
      body += std::to_string(len) + rest;
    }
    return entry("PaxHeaders/x", body, 'x');
  }
  // The archive with its two end-of-archive blocks.
  [[nodiscard]] std::string finish() const { return out_ + std::string(1024, '\0'); }
  [[nodiscard]] const std::string& bytes() const { return out_; }

 private:
  static void octal(std::string& h, std::size_t at, std::size_t len, unsigned long long v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(len - 1), v);
    h.replace(at, len - 1, buf);
  }
  std::string out_;
};

inline std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::string hex_of(const std::string& digest) { return digest.substr(digest.find(':') + 1); }

// One image of a legacy `docker save` (Docker < 25).
struct SavedImage {
  std::vector<std::string> repo_tags;
  ConfigSpec spec;
};

// A legacy `docker save` tarball: manifest.json, <hex>.json configs,
// <id>/layer.tar layers, repositories.
inline std::string docker_save_legacy(const std::vector<SavedImage>& images) {
  TarWriter tar;
  nlohmann::ordered_json manifest = nlohmann::ordered_json::array();
  for (const SavedImage& image : images) {
    const Blob config = config_blob(image.spec);
    const std::string layer_id = hex_of(sha256("layer id " + config.digest));
    tar.directory(layer_id + "/");
    tar.file(layer_id + "/VERSION", "1.0");
    tar.file(layer_id + "/json", R"({"id":")" + layer_id + R"("})");
    // A layer: a tar itself, never read.
    tar.file(layer_id + "/layer.tar", TarWriter().file("app/server", std::string(3000, 'x')).finish());
    tar.file(hex_of(config.digest) + ".json", config.content);
    manifest.push_back({{"Config", hex_of(config.digest) + ".json"},
                        {"RepoTags", image.repo_tags.empty() ? nlohmann::ordered_json(nullptr)
                                                             : nlohmann::ordered_json(image.repo_tags)},
                        {"Layers", {layer_id + "/layer.tar"}}});
  }
  tar.file("manifest.json", manifest.dump());
  tar.file("repositories", "{}");
  return tar.finish();
}

// An OCI image layout: path -> content.
struct OciLayout {
  std::map<std::string, std::string> files;

  // Every blob and manifest of `p` under blobs/sha256/, and an index.json
  // entry for its last manifest (the tagged one) with `annotations`.
  OciLayout& add(const Push& p, const nlohmann::ordered_json& annotations = nlohmann::ordered_json::object()) {
    for (const Blob& b : p.blobs) files["blobs/sha256/" + hex_of(b.digest)] = b.content;
    for (const ManifestDoc& m : p.manifests) files["blobs/sha256/" + hex_of(m.digest)] = m.content;
    const ManifestDoc& top = p.manifests.back();
    nlohmann::ordered_json entry = {{"mediaType", top.media_type}, {"digest", top.digest}, {"size", top.content.size()}};
    if (!annotations.empty()) entry["annotations"] = annotations;
    entries.push_back(entry);
    return *this;
  }
  // index.json and oci-layout from the entries added.
  OciLayout& seal() {
    files["oci-layout"] = R"({"imageLayoutVersion":"1.0.0"})";
    nlohmann::ordered_json index = {
        {"schemaVersion", 2}, {"mediaType", media_type::kOciIndex}, {"manifests", entries}};
    files["index.json"] = index.dump();
    return *this;
  }
  void write_to(const std::filesystem::path& dir) const {
    for (const auto& [name, content] : files) {
      std::filesystem::create_directories((dir / name).parent_path());
      std::ofstream(dir / name, std::ios::binary) << content;
    }
  }
  // As a tar in the order Docker 25 writes one: blobs first, then
  // index.json, manifest.json (when given), oci-layout.
  [[nodiscard]] std::string tar(const std::string& manifest_json = "") const {
    TarWriter t;
    t.directory("blobs/").directory("blobs/sha256/");
    for (const auto& [name, content] : files) {
      if (name.rfind("blobs/", 0) == 0) t.file(name, content);
    }
    t.file("index.json", files.at("index.json"));
    if (!manifest_json.empty()) t.file("manifest.json", manifest_json);
    t.file("oci-layout", files.at("oci-layout"));
    return t.finish();
  }

  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
};

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

// A config several image rules fail (one every rule passes:
// passing_image(), registry/test_images.h).
inline ConfigSpec rule_breaking_spec() {
  ConfigSpec bad;
  bad.user = "root";
  bad.env.push_back("DB_PASSWORD=hunter2-in-archive");
  bad.history = {"RUN /bin/sh -c apt-get install -y gcc # buildkit"};
  return bad;
}

}  // namespace podguard::testing

// libFuzzer target for the image archive reader (registry/image_archive.h)
// and the tar reader under it (registry/tar_reader.h): any bytes, read as a
// file (a memfd, opened by its /proc/self/fd path as `podguard image
// --archive` opens a file), and again gzip-compressed here unless they are
// compressed already; then all of it again with the checksum of every
// header set right, so that mutated headers get past the checksum.
//
// Checked beyond "no crash":
// - the tar reader: entry names are normalised (relative, no "." or ".."
//   parts, no empty part), only files have content, read() gives what
//   remaining() says, and a plain tar holds no more entries than it has
//   header blocks;
// - the archive reader fails whenever the tar reader does, with the same
//   message when no entry appears twice, and every error (of the archive
//   or of one image) names the archive as its file;
// - an image that is read has a digest of the form sha256:<64 hex> (or
//   sha512:<128 hex>) that is the digest of a file in the archive, as is
//   each of its configs; references and messages are printable; there are
//   no more images read than the archive has bytes for their descriptors;
// - the gzip-compressed copy gives the same images, digests and messages.
//
// Seeds: tests/fuzz/corpus/archives, written by fuzz_archive_seeds (see
// archive_seeds.cc) from the archives the registry tests build.
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/reading/image_manifest.h"
#include "registry/blob_digest.h"
#include "registry/image_archive.h"
#include "registry/tar_reader.h"

namespace {

using podguard::Result;
using podguard::Status;
using namespace podguard::registry;

void check(bool ok) {
  if (!ok) std::abort();
}

bool printable(std::string_view text) {
  for (char c : text) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// A memfd holding the bytes to read, and the path that opens it.
class MemFile {
 public:
  explicit MemFile(const char* name) : fd_(memfd_create(name, MFD_CLOEXEC)) {
    check(fd_ >= 0);
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& hold(std::string_view bytes) {
    check(ftruncate(fd_, 0) == 0);
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
      check(n > 0);
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

std::string gzip(std::string_view data) {
  z_stream z{};
  check(deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  check(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

bool compressed(std::string_view data) {
  for (std::string_view magic : {std::string_view("\x1f\x8b", 2), std::string_view("\x28\xb5\x2f\xfd", 4),
                                 std::string_view("BZh", 3), std::string_view("\xfd" "7zXZ\0", 6)}) {
    if (data.substr(0, magic.size()) == magic) return true;
  }
  return false;
}

// What a walk over the tar with TarReader saw.
struct Walk {
  Status error;  // ok when the walk reached the end
  std::size_t entries = 0;
  std::size_t files = 0;
  std::uint64_t file_bytes = 0;
  bool duplicate = false;
  std::set<std::string> digests;  // sha256 and sha512 of every file read whole
};

bool normalised(const std::string& name) {
  if (name == ".") return true;
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  std::string_view rest = name;
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    rest.remove_prefix(slash + 1);
  }
}

// Files up to the archive reader's limits are read whole (in steps that
// vary with the entry); larger ones, which cannot be what an image is read
// from, only in part, the rest skipped by next().
Status read_entry(TarReader& reader, const TarEntry& e, std::size_t ordinal, std::uint64_t whole_limit, Walk& walk) {
  check(reader.remaining() == e.size);
  const bool whole = e.size <= whole_limit;
  const std::size_t step = 1 + (ordinal * 977) % 4096;
  std::string content;
  std::uint64_t left = e.size;
  while (left > 0 && (whole || content.size() < 2 * step)) {
    Result<std::string> got = reader.read(step);
    if (!got.ok()) return got.status();
    check(got->size() == std::min<std::uint64_t>(step, left));
    left -= got->size();
    check(reader.remaining() == left);
    content += *got;
  }
  if (left == 0) {
    Result<std::string> after = reader.read(16);
    check(after.ok() && after->empty());
    for (const char* algorithm : {"sha256:", "sha512:"}) {
      if (auto d = digest_of(content, algorithm)) walk.digests.insert(*d);
    }
  }
  return Status();
}

Walk walk_tar(const std::string& path, std::uint64_t whole_limit) {
  Walk walk;
  Result<std::unique_ptr<TarReader>> reader = TarReader::open(path);
  if (!reader.ok()) {
    walk.error = reader.status();
    return walk;
  }
  std::set<std::string> names;
  for (;;) {
    Result<std::optional<podguard::registry::TarEntry>> next = (*reader)->next();
    if (!next.ok()) {
      walk.error = next.status();
      return walk;
    }
    if (!*next) break;
    const TarEntry& e = **next;
    check(normalised(e.name));
    check(e.type == TarEntry::Type::kFile || e.size == 0);
    check(e.link_target.empty() || e.type == TarEntry::Type::kSymlink || e.type == TarEntry::Type::kHardLink);
    ++walk.entries;
    if (e.type != TarEntry::Type::kDirectory && !names.insert(e.name).second) walk.duplicate = true;
    if (e.type != TarEntry::Type::kFile) continue;
    ++walk.files;
    walk.file_bytes += e.size;
    if (Status s = read_entry(**reader, e, walk.entries, whole_limit, walk); !s.ok()) {
      walk.error = s;
      return walk;
    }
  }
  Result<std::optional<TarEntry>> after = (*reader)->next();
  check(after.ok() && !*after);
  return walk;
}

bool well_formed_digest(const std::string& digest) {
  if (!podguard::digest_problem(digest).empty()) return false;
  return (digest.rfind("sha256:", 0) == 0 && digest.size() == 7 + 64) ||
         (digest.rfind("sha512:", 0) == 0 && digest.size() == 7 + 128);
}

void check_error(const Status& s, const std::string& path) {
  check(!s.ok());
  check(s.file() == path);
  check(!s.message().empty());
  check(printable(s.message()));
}

void check_archive(const Result<std::vector<ArchiveImage>>& images, const std::string& path, const Walk& walk,
                   const ArchiveOptions& options) {
  if (!walk.error.ok()) {
    // TarFiles::load stops at the reader's first error; an entry seen twice
    // or too much JSON before it stops it sooner.
    check(!images.ok());
    if (!walk.duplicate && walk.file_bytes <= options.max_json_bytes) {
      check(images.error().message() == walk.error.message());
    }
  }
  if (!images.ok()) {
    check_error(images.error(), path);
    return;
  }
  check(!images->empty());
  std::set<std::string> read_digests;
  std::size_t read = 0;
  for (const ArchiveImage& image : *images) {
    check(!image.reference.empty() && printable(image.reference));
    if (!image.facts.ok()) {
      check_error(image.facts.error(), path);
      continue;
    }
    const podguard::ImageFacts& facts = **image.facts;
    check(well_formed_digest(facts.digest));
    check(walk.digests.count(facts.digest) == 1);
    for (const podguard::PlatformImage& p : facts.images) {
      check(p.config != nullptr);
      check(well_formed_digest(p.config_digest));
      check(walk.digests.count(p.config_digest) == 1);
      check(p.manifest_digest.empty() || walk.digests.count(p.manifest_digest) == 1);
    }
    read_digests.insert(facts.digest);
    ++read;
  }
  // Each image read was named by a descriptor or a Config of at least a
  // digest's length in a file of the archive, and is a file itself.
  check(read_digests.size() <= walk.files);
  check(read * (7 + 64) <= walk.file_bytes);
}

// The same outcome from the plain and the gzip-compressed copy (read
// through the same path, so references that show it compare as they are).
void check_same(const Result<std::vector<ArchiveImage>>& a, const Result<std::vector<ArchiveImage>>& b) {
  check(a.ok() == b.ok());
  if (!a.ok()) {
    check(a.error().message() == b.error().message());
    return;
  }
  check(a->size() == b->size());
  for (std::size_t i = 0; i < a->size(); ++i) {
    const ArchiveImage& x = (*a)[i];
    const ArchiveImage& y = (*b)[i];
    check(x.reference == y.reference);
    check(x.facts.ok() == y.facts.ok());
    if (!x.facts.ok()) {
      check(x.facts.error().message() == y.facts.error().message());
      continue;
    }
    check((*x.facts)->digest == (*y.facts)->digest);
    check((*x.facts)->images.size() == (*y.facts)->images.size());
    check((*x.facts)->offered == (*y.facts)->offered);
  }
}

// The input with the checksum of each header it reaches (walking headers
// and contents by their size fields) set right, so that mutated names,
// types, sizes and links reach the reader's later checks and the archive
// reader instead of all stopping at the checksum.
std::string with_checksums(std::string_view bytes) {
  std::string out(bytes);
  std::size_t pos = 0;
  for (int headers = 0; pos + 512 <= out.size() && headers < 4096; ++headers) {
    unsigned char* h = reinterpret_cast<unsigned char*>(out.data() + pos);
    if (std::all_of(h, h + 512, [](unsigned char c) { return c == 0; })) break;
    unsigned sum = 0;
    for (std::size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : h[i];
    char field[8];
    std::snprintf(field, sizeof field, "%06o", sum);
    std::memcpy(h + 148, field, 7);
    h[155] = ' ';
    std::uint64_t size = 0;
    for (std::size_t i = 124; i < 136 && h[i] >= '0' && h[i] <= '7'; ++i) size = size * 8 + (h[i] - '0');
    const char flag = static_cast<char>(h[156]);
    if (flag >= '1' && flag <= '6') size = 0;
    if (size > out.size()) break;
    pos += 512 + (size + 511) / 512 * 512;
  }
  return out;
}

void fuzz_one(std::string_view bytes, MemFile& file, const ArchiveOptions& options) {
  const std::string& path = file.hold(bytes);
  const Walk walk = walk_tar(path, std::max(options.max_manifest_bytes, options.max_config_bytes));
  if (walk.error.ok() && !compressed(bytes)) check(walk.entries * 512 <= bytes.size());
  const Result<std::vector<ArchiveImage>> images = read_image_archive(path, options);
  check_archive(images, path, walk, options);

  if (!compressed(bytes)) {
    file.hold(gzip(bytes));
    check_same(images, read_image_archive(path, options));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static MemFile file("fuzz-archive");
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  ArchiveOptions options;
  // Every platform, or one: index entries chosen both ways.
  if (size % 2 == 1) options.platforms = {podguard::ImagePlatform{"linux", "amd64", ""}};
  // Small enough that the limits are reached by inputs of fuzzing size.
  options.max_manifest_bytes = 16 << 10;
  options.max_config_bytes = 32 << 10;
  options.max_json_bytes = 256 << 10;

  fuzz_one(bytes, file, options);
  if (!compressed(bytes)) {
    const std::string fixed = with_checksums(bytes);
    if (fixed != bytes) fuzz_one(fixed, file, options);
  }
  return 0;
}

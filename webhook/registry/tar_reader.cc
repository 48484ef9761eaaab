#include "registry/tar_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

namespace podguard::registry {
namespace {

constexpr std::size_t kBlock = 512;
constexpr std::size_t kBufferBytes = 64 << 10;

// Bytes in, in order; `skip` for what nobody needs to see.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Up to `n` bytes; 0 only at the end.
  virtual Result<std::size_t> read_some(char* buf, std::size_t n) = 0;
  // Skips up to `n` bytes; fewer only at the end.
  virtual Result<std::uint64_t> skip(std::uint64_t n) {
    std::array<char, kBufferBytes> scratch{};
    std::uint64_t done = 0;
    while (done < n) {
      auto got = read_some(scratch.data(), static_cast<std::size_t>(std::min<std::uint64_t>(n - done, scratch.size())));
      if (!got.ok()) return got.status();
      if (*got == 0) break;
      done += *got;
    }
    return done;
  }

  // Exactly `n` bytes unless the end comes first.
  Result<std::size_t> read_full(char* buf, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
      auto got = read_some(buf + done, n - done);
      if (!got.ok()) return got.status();
      if (*got == 0) break;
      done += *got;
    }
    return done;
  }
};

// A file or standard input; a regular file is seeked over when skipping.
class FileSource : public ByteSource {
 public:
  static Result<std::unique_ptr<FileSource>> open(const std::string& path) {
    const bool stdin_ = path == "-";
    const int fd = stdin_ ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::io_error(std::string("cannot open it: ") + std::strerror(errno));
    auto src = std::unique_ptr<FileSource>(new FileSource(fd, !stdin_));
    struct stat st{};
    if (fstat(fd, &st) != 0) return Status::io_error(std::string("cannot read it: ") + std::strerror(errno));
    if (S_ISDIR(st.st_mode)) return Status::invalid_input("a directory, not a tar archive");
    if (S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) >= 0) {
      src->seekable_ = true;
      src->size_ = static_cast<std::uint64_t>(st.st_size);
      src->pos_ = static_cast<std::uint64_t>(lseek(fd, 0, SEEK_CUR));
    }
    return src;
  }
  ~FileSource() override {
    if (owned_) ::close(fd_);
  }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  // The first `n` bytes, read ahead and served again by read_some.
  Result<std::string_view> peek(std::size_t n) {
    while (ahead_.size() < n) {
      char buf[kBlock];
      auto got = read_fd(buf, std::min(sizeof buf, n - ahead_.size()));
      if (!got.ok()) return got.status();
      if (*got == 0) break;
      ahead_.append(buf, *got);
    }
    return std::string_view(ahead_).substr(0, n);
  }

  Result<std::size_t> read_some(char* buf, std::size_t n) override {
    if (ahead_used_ < ahead_.size()) {
      const std::size_t k = std::min(n, ahead_.size() - ahead_used_);
      std::memcpy(buf, ahead_.data() + ahead_used_, k);
      ahead_used_ += k;
      return k;
    }
    return read_fd(buf, n);
  }

  Result<std::uint64_t> skip(std::uint64_t n) override {
    if (!seekable_ || ahead_used_ < ahead_.size()) return ByteSource::skip(n);
    const std::uint64_t k = std::min(n, size_ - std::min(pos_, size_));
    if (lseek(fd_, static_cast<off_t>(k), SEEK_CUR) < 0) {
      return Status::io_error(std::string("cannot seek in it: ") + std::strerror(errno));
    }
    pos_ += k;
    return k;
  }

 private:
  FileSource(int fd, bool owned) : fd_(fd), owned_(owned) {}

  Result<std::size_t> read_fd(char* buf, std::size_t n) {
    for (;;) {
      const ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) {
        pos_ += static_cast<std::uint64_t>(got);
        return static_cast<std::size_t>(got);
      }
      if (errno != EINTR) return Status::io_error(std::string("cannot read it: ") + std::strerror(errno));
    }
  }

  int fd_;
  bool owned_;
  bool seekable_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t pos_ = 0;
  std::string ahead_;
  std::size_t ahead_used_ = 0;
};

// gzip (one member or several concatenated), inflated as it is read.
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<FileSource> in) : in_(std::move(in)), buffer_(kBufferBytes) {
    ok_ = inflateInit2(&z_, 15 + 16) == Z_OK;
  }
  ~GzipSource() override { inflateEnd(&z_); }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;

  Result<std::size_t> read_some(char* buf, std::size_t n) override {
    if (!ok_) return Status::internal("zlib could not be initialised");
    z_.next_out = reinterpret_cast<Bytef*>(buf);
    const auto want = static_cast<uInt>(std::min<std::size_t>(n, kBufferBytes));
    z_.avail_out = want;
    while (z_.avail_out == want && !ended_) {
      if (z_.avail_in == 0) {
        auto got = in_->read_some(buffer_.data(), buffer_.size());
        if (!got.ok()) return got.status();
        if (*got == 0) return Status::invalid_input("the gzip stream ends early (a truncated file)");
        z_.next_in = reinterpret_cast<Bytef*>(buffer_.data());
        z_.avail_in = static_cast<uInt>(*got);
      }
      const int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        if (Status s = next_member(); !s.ok()) return s;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return Status::invalid_input(std::string("corrupt gzip data: ") + (z_.msg != nullptr ? z_.msg : "inflate failed"));
      }
    }
    return static_cast<std::size_t>(want - z_.avail_out);
  }

 private:
  // After one member: another may follow (pigz, concatenated files).
  Status next_member() {
    if (z_.avail_in == 0) {
      auto got = in_->read_some(buffer_.data(), buffer_.size());
      if (!got.ok()) return got.status();
      if (*got == 0) {
        ended_ = true;
        return Status();
      }
      z_.next_in = reinterpret_cast<Bytef*>(buffer_.data());
      z_.avail_in = static_cast<uInt>(*got);
    }
    inflateReset(&z_);
    return Status();
  }

  std::unique_ptr<FileSource> in_;
  std::vector<char> buffer_;
  z_stream z_{};
  bool ok_ = false;
  bool ended_ = false;
};

// What a compressed file's first bytes say, for the ones not read here.
std::string compression_refused(std::string_view head) {
  if (head.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) {
    return "zstd-compressed archive: decompress it first (zstd -d)";
  }
  if (head.substr(0, 3) == "BZh") return "bzip2-compressed archive: decompress it first (bunzip2)";
  if (head.substr(0, 6) == std::string_view("\xfd" "7zXZ\0", 6)) {
    return "xz-compressed archive: decompress it first (unxz)";
  }
  return "";
}

std::string c_string(const char* field, std::size_t len) { return std::string(field, strnlen(field, len)); }

// An octal field (spaces or NULs around it), or GNU base-256 (high bit set).
std::optional<std::uint64_t> parse_number(const unsigned char* field, std::size_t len) {
  if ((field[0] & 0x80) != 0) {
    if (field[0] == 0xff) return std::nullopt;  // negative
    std::uint64_t v = field[0] & 0x7f;
    for (std::size_t i = 1; i < len; ++i) {
      if (v > (UINT64_MAX >> 9)) return std::nullopt;
      v = (v << 8) | field[i];
    }
    return v;
  }
  std::size_t i = 0;
  while (i < len && (field[i] == ' ' || field[i] == 0)) ++i;
  std::uint64_t v = 0;
  for (; i < len && field[i] >= '0' && field[i] <= '7'; ++i) {
    if (v > (UINT64_MAX >> 4)) return std::nullopt;
    v = v * 8 + static_cast<std::uint64_t>(field[i] - '0');
  }
  for (; i < len; ++i) {
    if (field[i] != ' ' && field[i] != 0) return std::nullopt;
  }
  return v;
}

bool checksum_ok(const unsigned char* h) {
  const std::optional<std::uint64_t> want = parse_number(h + 148, 8);
  if (!want) return false;
  std::uint64_t unsigned_sum = 0;
  std::int64_t signed_sum = 0;  // what some old tars wrote
  for (std::size_t i = 0; i < kBlock; ++i) {
    const unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
    unsigned_sum += c;
    signed_sum += static_cast<signed char>(c);
  }
  return *want == unsigned_sum || static_cast<std::int64_t>(*want) == signed_sum;
}

// "./a//b/" -> "a/b"; refuses absolute names and names that climb out.
Result<std::string> normalise_name(std::string_view raw) {
  if (raw.empty()) return Status::invalid_input("an entry with an empty name");
  if (raw.front() == '/') return Status::invalid_input("entry " + printable_name(raw) + ": an absolute path");
  std::optional<std::string> name = archive_path("", raw);
  if (!name) return Status::invalid_input("entry " + printable_name(raw) + ": a path that climbs out of the archive (..)");
  return name->empty() ? std::string(".") : *name;
}

struct PaxFields {
  std::optional<std::string> path;
  std::optional<std::string> linkpath;
  std::optional<std::uint64_t> size;
};

// "<length> <key>=<value>\n" records.
Status parse_pax(std::string_view text, PaxFields& out) {
  const Status bad = Status::invalid_input("a malformed pax header");
  while (!text.empty()) {
    std::size_t len = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && i < 12; ++i) len = len * 10 + (text[i] - '0');
    if (i == 0 || i >= text.size() || text[i] != ' ' || len <= i + 1 || len > text.size() || text[len - 1] != '\n') {
      return bad;
    }
    const std::string_view record = text.substr(i + 1, len - i - 2);
    text.remove_prefix(len);
    const std::size_t eq = record.find('=');
    if (eq == std::string_view::npos) return bad;
    const std::string_view key = record.substr(0, eq);
    const std::string_view value = record.substr(eq + 1);
    if (key == "path") out.path = std::string(value);
    if (key == "linkpath") out.linkpath = std::string(value);
    if (key == "size") {
      std::uint64_t v = 0;
      if (value.empty() || value.size() > 18) return bad;
      for (char c : value) {
        if (c < '0' || c > '9') return bad;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      out.size = v;
    }
  }
  return Status();
}

TarEntry::Type entry_type(char flag) {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return TarEntry::Type::kFile;
    case '1':
      return TarEntry::Type::kHardLink;
    case '2':
      return TarEntry::Type::kSymlink;
    case '5':
      return TarEntry::Type::kDirectory;
    default:
      return TarEntry::Type::kOther;
  }
}

// Types whose size field says nothing about content that follows.
bool header_only(char flag) { return flag >= '1' && flag <= '6'; }

}  // namespace

std::string printable_name(std::string_view text) {
  constexpr std::size_t kMax = 200;
  std::string out;
  for (char c : text.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kMax) out += "...";
  return out;
}

std::optional<std::string> archive_path(std::string_view dir, std::string_view path) {
  if (path.empty() || path.front() == '/') return std::nullopt;
  std::vector<std::string_view> parts;
  for (std::string_view rest : {dir, path}) {
    while (!rest.empty()) {
      const std::size_t slash = rest.find('/');
      const std::string_view part = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
      if (part == "..") {
        if (parts.empty()) return std::nullopt;
        parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.push_back(part);
      }
    }
  }
  std::string out;
  for (std::string_view p : parts) (out += out.empty() ? "" : "/") += p;
  return out;
}

struct TarReader::Impl {
  std::unique_ptr<ByteSource> source;
  TarLimits limits;
  std::uint64_t offset = 0;     // of the next byte in the tar stream
  std::uint64_t remaining = 0;  // content of the current entry not read yet
  std::uint64_t padding = 0;    // after it, to the next block
  std::string current;          // the current entry's name, for messages
  std::size_t entries = 0;
  bool ended = false;

  std::string where() const { return "at offset " + std::to_string(offset); }

  Status truncated_in(const std::string& name) const {
    return Status::invalid_input("entry " + printable_name(name) + ": the archive ends inside its content (a truncated file)");
  }

  Status skip_rest() {
    const std::uint64_t want = remaining + padding;
    if (want == 0) return Status();
    auto got = source->skip(want);
    if (!got.ok()) return got.status();
    offset += *got;
    if (*got < want) return truncated_in(current);
    remaining = padding = 0;
    return Status();
  }

  // A GNU long name or a pax header's content, bounded.
  Result<std::string> header_content(std::uint64_t size, const char* what) {
    if (size > limits.max_header_bytes) {
      return Status::too_large(std::string(what) + " of " + std::to_string(size) + " bytes " + where() +
                               ", over the limit of " + std::to_string(limits.max_header_bytes));
    }
    std::string content(static_cast<std::size_t>(size), '\0');
    auto got = source->read_full(content.data(), content.size());
    if (!got.ok()) return got.status();
    if (*got < size) return Status::invalid_input(std::string(what) + " " + where() + " is cut short (a truncated file)");
    const std::uint64_t pad = (kBlock - size % kBlock) % kBlock;
    auto skipped = source->skip(pad);
    if (!skipped.ok()) return skipped.status();
    offset += size + *skipped;
    return content;
  }

  // The next header block; nullopt at the end-of-archive blocks.
  Result<std::optional<std::array<unsigned char, kBlock>>> header() {
    std::array<unsigned char, kBlock> h{};
    auto got = source->read_full(reinterpret_cast<char*>(h.data()), kBlock);
    if (!got.ok()) return got.status();
    if (*got == 0 && offset == 0) return Status::invalid_input("an empty file, not a tar archive");
    if (*got == 0) return Status::invalid_input("the archive ends without its end-of-archive blocks (a truncated file)");
    if (*got < kBlock && offset == 0) return Status::invalid_input("not a tar archive (shorter than one tar header)");
    if (*got < kBlock) return Status::invalid_input("the archive ends inside a header " + where() + " (a truncated file)");
    if (std::all_of(h.begin(), h.end(), [](unsigned char c) { return c == 0; })) {
      std::array<char, kBlock> second{};
      auto more = source->read_full(second.data(), kBlock);
      if (!more.ok()) return more.status();
      if (*more == 0 || std::all_of(second.begin(), second.begin() + static_cast<std::ptrdiff_t>(*more),
                                    [](char c) { return c == 0; })) {
        return std::optional<std::array<unsigned char, kBlock>>();
      }
      return Status::invalid_input("a zero block " + where() + " in the middle of the archive (a corrupt file)");
    }
    if (!checksum_ok(h.data())) {
      if (offset == 0) return Status::invalid_input("not a tar archive (its first block is no tar header)");
      return Status::invalid_input("the header " + where() + (current.empty() ? "" : " (after entry " + printable_name(current) + ")") +
                                   " has a bad checksum (a corrupt file)");
    }
    offset += kBlock;
    return std::optional(h);
  }

  Result<std::optional<TarEntry>> next() {
    if (ended) return std::optional<TarEntry>();
    if (Status s = skip_rest(); !s.ok()) return s;
    std::optional<std::string> long_name;
    std::optional<std::string> long_link;
    PaxFields pax;
    for (;;) {
      auto block = header();
      if (!block.ok()) return block.status();
      if (!*block) {
        ended = true;
        return std::optional<TarEntry>();
      }
      const unsigned char* h = (*block)->data();
      const char* c = reinterpret_cast<const char*>(h);
      const char flag = c[156];
      std::optional<std::uint64_t> size = parse_number(h + 124, 12);
      if (!size) return Status::invalid_input("the header " + where() + " has a malformed size field");
      if (flag == 'L' || flag == 'K' || flag == 'x' || flag == 'g') {
        auto content = header_content(*size, flag == 'x' || flag == 'g' ? "a pax header" : "a GNU long name");
        if (!content.ok()) return content.status();
        if (flag == 'L') long_name = c_string(content->data(), content->size());
        if (flag == 'K') long_link = c_string(content->data(), content->size());
        if (flag == 'x') {
          if (Status s = parse_pax(*content, pax); !s.ok()) return std::move(s).prefix(where() + ": ");
        }
        continue;
      }
      if (++entries > limits.max_entries) {
        return Status::too_large("more than " + std::to_string(limits.max_entries) + " entries, not an image archive");
      }
      return entry(c, pax.path ? pax.path : long_name, pax.linkpath ? pax.linkpath : long_link,
                   pax.size ? *pax.size : *size);
    }
  }

  Result<std::optional<TarEntry>> entry(const char* h, const std::optional<std::string>& long_name,
                                        const std::optional<std::string>& long_link, std::uint64_t size) {
    std::string raw;
    if (long_name) {
      raw = *long_name;
    } else {
      raw = c_string(h, 100);
      const bool ustar = std::memcmp(h + 257, "ustar\0", 6) == 0;
      const std::string prefix = ustar ? c_string(h + 345, 155) : "";
      if (!prefix.empty()) raw = prefix + "/" + raw;
    }
    auto name = normalise_name(raw);
    if (!name.ok()) return name.status();
    const char flag = h[156];
    TarEntry e;
    e.name = std::move(*name);
    e.type = entry_type(flag);
    if (e.type == TarEntry::Type::kSymlink || e.type == TarEntry::Type::kHardLink) {
      e.link_target = long_link ? *long_link : c_string(h + 157, 100);
    }
    const std::uint64_t content = header_only(flag) ? 0 : size;
    e.size = e.type == TarEntry::Type::kFile ? content : 0;
    current = e.name;
    remaining = content;
    padding = (kBlock - content % kBlock) % kBlock;
    return std::optional(std::move(e));
  }

  Result<std::string> read(std::size_t max) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(max, remaining));
    std::string out(n, '\0');
    auto got = source->read_full(out.data(), n);
    if (!got.ok()) return got.status();
    offset += *got;
    if (*got < n) return truncated_in(current);
    remaining -= n;
    return out;
  }
};

TarReader::TarReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TarReader::~TarReader() = default;

Result<std::unique_ptr<TarReader>> TarReader::open(const std::string& path, TarLimits limits) {
  auto file = FileSource::open(path);
  if (!file.ok()) return file.status();
  auto head = (*file)->peek(6);
  if (!head.ok()) return head.status();
  auto impl = std::make_unique<Impl>();
  impl->limits = limits;
  if (const std::string refused = compression_refused(*head); !refused.empty()) {
    return Status::invalid_input(refused);
  }
  if (head->substr(0, 2) == "\x1f\x8b") {
    impl->source = std::make_unique<GzipSource>(std::move(*file));
  } else {
    impl->source = std::move(*file);
  }
  return std::unique_ptr<TarReader>(new TarReader(std::move(impl)));
}

Result<std::optional<TarEntry>> TarReader::next() { return impl_->next(); }
Result<std::string> TarReader::read(std::size_t max) { return impl_->read(max); }
std::uint64_t TarReader::remaining() const { return impl_->remaining; }

}  // namespace podguard::registry

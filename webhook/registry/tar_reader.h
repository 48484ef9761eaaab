// A streaming reader of tar archives, for image archives (`docker save`
// tarballs, OCI image layouts in a tar): POSIX ustar, GNU long names and
// links (././@LongLink) and base-256 sizes, pax headers (path, linkpath,
// size). Plain or gzip-compressed; other compressions are refused with a
// message saying to decompress first.
//
// Archives are untrusted: every header is checksummed; names that are
// absolute or climb out with ".." are refused; GNU and pax headers are
// bounded; an archive that ends mid-entry or without its end-of-archive
// blocks is truncated. Content is read only when asked for and never more
// than the caller's limit: what is not read is skipped (seeked over in an
// uncompressed file), so layers cost no memory.
//
// Errors are Statuses without the file name (the caller adds it); those
// about one entry name it.
//
// One reader per thread: not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace podguard::registry {

struct TarEntry {
  enum class Type : std::uint8_t { kFile, kDirectory, kSymlink, kHardLink, kOther };
  // Relative, without "./" or a trailing '/', "." for the top folder.
  std::string name;
  Type type = Type::kOther;
  std::string link_target;  // symlinks and hard links, as written
  std::uint64_t size = 0;   // content bytes (files only; 0 for the others)
};

// Bounds on what one archive may ask of the reader.
struct TarLimits {
  // One GNU long name or pax header, in bytes.
  std::size_t max_header_bytes = 1 << 20;
  // Entries, headers left out.
  std::size_t max_entries = 100000;
};

// Archive text (a name, a link target, an annotation) made safe to put in a
// message or an output: printable ASCII only, and at most 200 characters.
std::string printable_name(std::string_view text);

// `path` from the folder `dir` of an archive ("" for its top), with "." and
// ".." resolved and empty parts dropped: "a/./b/../c" -> "a/c". nullopt when
// `path` is absolute or climbs out of the archive.
std::optional<std::string> archive_path(std::string_view dir, std::string_view path);

class TarReader {
 public:
  // Opens `path`, or standard input for "-". A gzip-compressed archive is
  // decompressed as it is read.
  static Result<std::unique_ptr<TarReader>> open(const std::string& path, TarLimits limits = {});
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // The next entry; nullopt at the end of the archive. Whatever content of
  // the previous entry was not read is skipped.
  Result<std::optional<TarEntry>> next();

  // Up to `max` more bytes of the current entry's content (fewer only at
  // its end).
  Result<std::string> read(std::size_t max);

  // Content bytes of the current entry not read yet.
  [[nodiscard]] std::uint64_t remaining() const;

 private:
  struct Impl;
  explicit TarReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace podguard::registry

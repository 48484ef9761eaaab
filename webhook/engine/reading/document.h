// Parsed Kubernetes objects, field paths, and where each field sits in the
// source text.
//
// A Document is built once by the manifest reader and is immutable after
// that; const access is safe from any number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/base/status.h"
#include "engine/reading/node_arena.h"

namespace podguard {

// nlohmann::ordered_json (members keep their order) with every node, and
// every string's characters, allocated through NodeAllocator, so a reader
// can put a whole document in one arena. JsonString is therefore not
// std::string: convert with std::string(s), compare through string_view.
using JsonString = std::basic_string<char, std::char_traits<char>, NodeAllocator<char>>;
using Json = nlohmann::basic_json<nlohmann::ordered_map, std::vector, JsonString, bool, std::int64_t, std::uint64_t,
                                  double, NodeAllocator>;

// A field's location inside an object, rendered the way Kubernetes writes
// field paths: spec.template.spec.containers[0].securityContext.runAsUser,
// metadata.annotations[podguard.io/exempt].
class FieldPath {
 public:
  struct Segment {
    std::string key;         // map key; empty for a list index
    std::size_t index = 0;   // list index when is_index
    bool is_index = false;

    bool operator==(const Segment&) const = default;
  };

  FieldPath() = default;

  // Returns a copy extended by one segment.
  [[nodiscard]] FieldPath key(std::string_view k) const;
  [[nodiscard]] FieldPath index(std::size_t i) const;

  // Extends this path in place.
  FieldPath& push_key(std::string_view k);
  FieldPath& push_index(std::size_t i);
  FieldPath& append(const FieldPath& tail);

  [[nodiscard]] bool empty() const { return segments_.empty(); }
  [[nodiscard]] std::size_t size() const { return segments_.size(); }
  [[nodiscard]] const std::vector<Segment>& segments() const { return segments_; }

  // The path without its last `n` segments.
  [[nodiscard]] FieldPath prefix(std::size_t n) const;

  [[nodiscard]] std::string str() const;

  bool operator==(const FieldPath&) const = default;

 private:
  std::vector<Segment> segments_;
};

// Stable 64-bit hashes of field paths, computed segment by segment so the
// reader can hash while it parses and lookups can hash a FieldPath.
namespace path_hash {
inline constexpr std::uint64_t kRoot = 0xcbf29ce484222325ULL;
std::uint64_t key(std::uint64_t parent, std::string_view key);
std::uint64_t index(std::uint64_t parent, std::size_t index);
std::uint64_t of(const FieldPath& path, std::uint64_t start = kRoot);
}  // namespace path_hash

// Where the fields of one document were in the source text: map entries
// point at their key, list items at their first character.
//
// Built by appending while parsing, then sorted once by finish(): a flat
// sorted array is several times cheaper to build than a hash table for the
// million-node documents `kubectl get -o json` produces.
class SourceMap {
 public:
  void record(std::uint64_t hash, SourcePos pos) { entries_.push_back(Entry{hash, pos}); }
  // Sorts the entries; call once after the last record(). When a hash was
  // recorded twice, the first position wins.
  void finish();

  // Position of `root` + `path`, or of the nearest parent that exists in the
  // source (a missing field points at the object that should contain it).
  // Only valid after finish().
  [[nodiscard]] SourcePos locate(const FieldPath& root, const FieldPath& path) const;

 private:
  struct Entry {
    std::uint64_t hash;
    SourcePos pos;
  };
  [[nodiscard]] const SourcePos* find(std::uint64_t hash) const;

  std::vector<Entry> entries_;
};

// A number as the API server receives it from kubectl. kubectl turns YAML
// (and JSON) into Go values and back into JSON, so a float with an integral
// value is written as an integer: `29.0`, `1e+06` (as Helm prints large
// values) and `!!float 1` reach the API server as 29, 1000000 and 1, and an
// integer field such as runAsUser takes them. Both readers pass numbers
// through this, so `podguard check` judges what the webhook will see.
// Beyond int64 (and for fractions, infinities and NaN) the float stays.
inline Json kubectl_number(double d) {
  constexpr double kInt64Bound = 9223372036854775808.0;  // 2^63
  if (d >= -kInt64Bound && d < kInt64Bound && static_cast<double>(static_cast<std::int64_t>(d)) == d) {
    return Json(static_cast<std::int64_t>(d));
  }
  return Json(d);
}

// Frees a value's subtree leaves first. nlohmann's own destructor avoids
// recursion by moving every child of a list or object onto a heap-allocated
// stack; documents here are depth-limited (ReadLimits::max_depth), so plain
// recursion is safe and spares an allocation and a move per collection.
// Leaves `v` null.
void dispose(Json& v) noexcept;

// One YAML document or JSON value from an input.
struct Document {
  Document() = default;
  Document(Document&&) noexcept = default;
  Document& operator=(Document&&) noexcept = default;
  Document(const Document&) = default;
  Document& operator=(const Document&) = default;
  ~Document() { dispose(value); }

  // Makes `value` null without freeing anything: for a document whose every
  // node lives in a NodeArena that is about to be destroyed.
  void forget_arena_nodes() noexcept { ::new (&value) Json(); }

  Json value;
  SourceMap positions;
  SourcePos start;
};

}  // namespace podguard

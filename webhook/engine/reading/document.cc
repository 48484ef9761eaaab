#include "engine/reading/document.h"

#include <algorithm>

namespace podguard {

FieldPath FieldPath::key(std::string_view k) const {
  FieldPath copy = *this;
  copy.push_key(k);
  return copy;
}

FieldPath FieldPath::index(std::size_t i) const {
  FieldPath copy = *this;
  copy.push_index(i);
  return copy;
}

FieldPath& FieldPath::push_key(std::string_view k) {
  segments_.push_back(Segment{std::string(k), 0, false});
  return *this;
}

FieldPath& FieldPath::push_index(std::size_t i) {
  segments_.push_back(Segment{std::string(), i, true});
  return *this;
}

FieldPath& FieldPath::append(const FieldPath& tail) {
  segments_.insert(segments_.end(), tail.segments_.begin(), tail.segments_.end());
  return *this;
}

FieldPath FieldPath::prefix(std::size_t n) const {
  FieldPath out;
  const std::size_t keep = n >= segments_.size() ? 0 : segments_.size() - n;
  out.segments_.assign(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(keep));
  return out;
}

namespace {

// Field names print as `.name`; map keys that are not identifiers
// (annotation keys, sysctl names) print as `[key]`, as Kubernetes does.
bool is_identifier(std::string_view k) {
  if (k.empty()) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace

std::string FieldPath::str() const {
  std::string out;
  for (const Segment& s : segments_) {
    if (s.is_index) {
      out += '[';
      out += std::to_string(s.index);
      out += ']';
    } else if (is_identifier(s.key)) {
      if (!out.empty()) out += '.';
      out += s.key;
    } else {
      out += '[';
      out += s.key;
      out += ']';
    }
  }
  return out;
}

namespace path_hash {

namespace {
constexpr std::uint64_t kPrime = 0x100000001b3ULL;

std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}
}  // namespace

std::uint64_t key(std::uint64_t parent, std::string_view k) {
  std::uint64_t h = mix(parent) ^ 'k';
  for (unsigned char c : k) {
    h ^= c;
    h *= kPrime;
  }
  return h;
}

std::uint64_t index(std::uint64_t parent, std::size_t i) {
  return mix(mix(parent) ^ 'i' ^ ((static_cast<std::uint64_t>(i) + 1) * 0x9e3779b97f4a7c15ULL));
}

std::uint64_t of(const FieldPath& path, std::uint64_t start) {
  std::uint64_t h = start;
  for (const auto& s : path.segments()) h = s.is_index ? index(h, s.index) : key(h, s.key);
  return h;
}

}  // namespace path_hash

void SourceMap::finish() {
  // Ties (a key recorded twice, as YAML merge keys can) keep the earliest position.
  std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return a.pos.line != b.pos.line ? a.pos.line < b.pos.line : a.pos.column < b.pos.column;
  });
  entries_.erase(std::unique(entries_.begin(), entries_.end(),
                             [](const Entry& a, const Entry& b) { return a.hash == b.hash; }),
                 entries_.end());
  entries_.shrink_to_fit();
}

const SourcePos* SourceMap::find(std::uint64_t hash) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), hash,
                             [](const Entry& e, std::uint64_t h) { return e.hash < h; });
  return it != entries_.end() && it->hash == hash ? &it->pos : nullptr;
}

SourcePos SourceMap::locate(const FieldPath& root, const FieldPath& path) const {
  // Hash every prefix of root+path, then take the deepest one recorded.
  std::vector<std::uint64_t> hashes;
  hashes.reserve(root.size() + path.size() + 1);
  std::uint64_t h = path_hash::kRoot;
  hashes.push_back(h);
  for (const FieldPath* p : {&root, &path}) {
    for (const auto& s : p->segments()) {
      h = s.is_index ? path_hash::index(h, s.index) : path_hash::key(h, s.key);
      hashes.push_back(h);
    }
  }
  for (auto it = hashes.rbegin(); it != hashes.rend(); ++it) {
    if (const SourcePos* found = find(*it)) return *found;
  }
  return {};
}

namespace {

void dispose_at(Json& v, int depth) noexcept {
  if (depth > 1000) return;  // deeper than any reader allows: nlohmann's destructor takes the rest
  if (v.is_object()) {
    for (auto& member : v.get_ref<Json::object_t&>()) dispose_at(member.second, depth + 1);
    v.get_ref<Json::object_t&>().clear();
  } else if (v.is_array()) {
    for (auto& item : v.get_ref<Json::array_t&>()) dispose_at(item, depth + 1);
    v.get_ref<Json::array_t&>().clear();
  }
}

}  // namespace

void dispose(Json& v) noexcept {
  dispose_at(v, 0);
  v = nullptr;
}

}  // namespace podguard

// Null-safe, type-checked reads from Kubernetes objects. Manifests are user
// input: a field may be missing, null or of the wrong type, and none of those
// may throw. A wrong type reads as absent, which the API server would have
// rejected anyway.
//
// Read-only accessors; safe wherever the Json they read is not being changed.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "engine/reading/document.h"

namespace podguard::json {

// `obj[key]` when obj is an object holding key, else nullptr.
// A scan of the object's members (an ordered_map is a vector), comparing a
// key's length and first byte before its bytes: nlohmann's find compares
// every key with memcmp, and this runs hundreds of times a review.
inline const Json* field(const Json* obj, std::string_view key) {
  const auto* members = obj != nullptr ? obj->get_ptr<const Json::object_t*>() : nullptr;
  if (members == nullptr) return nullptr;
  const std::size_t n = key.size();
  for (const auto& [k, v] : *members) {
    if (k.size() == n && (n == 0 || (k[0] == key[0] && std::memcmp(k.data(), key.data(), n) == 0))) return &v;
  }
  return nullptr;
}

// Walks nested keys: field(obj, {"securityContext", "seccompProfile", "type"}).
inline const Json* field(const Json* obj, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    obj = field(obj, k);
    if (obj == nullptr) return nullptr;
  }
  return obj;
}

inline std::optional<bool> as_bool(const Json* v) {
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

inline std::optional<std::int64_t> as_int(const Json* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
      return INT64_MAX;
    }
    return v->get<std::int64_t>();
  }
  return std::nullopt;
}

// The string value, or an empty view when absent or not a string.
inline std::string_view as_string(const Json* v) {
  if (v == nullptr || !v->is_string()) return {};
  return v->get_ref<const JsonString&>();
}

inline bool is_true(const Json* v) { return as_bool(v).value_or(false); }

// The elements of a list field; an absent or non-list field reads as empty.
inline const Json::array_t& items(const Json* v) {
  static const Json::array_t kEmpty;
  if (v == nullptr || !v->is_array()) return kEmpty;
  return v->get_ref<const Json::array_t&>();
}

}  // namespace podguard::json

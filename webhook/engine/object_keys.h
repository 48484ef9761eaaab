// Building JSON objects from a parser: key order is kept (Json is
// nlohmann::ordered_json) and duplicate keys are refused.
#pragma once

#include <string>
#include <unordered_set>

#include "engine/document.h"

namespace podguard {

// Keys of one object under construction. Objects keep their keys in order
// (Json is nlohmann::ordered_json), so a duplicate check is a scan; past a
// few dozen keys a hash set takes over, so a hostile object with a hundred
// thousand keys costs linear time, not quadratic.
class KeyIndex {
 public:
  // Appends key -> value unless the key is there; returns the new value, or
  // nullptr for a duplicate.
  Json* insert(Json::object_t& object, std::string&& key, Json&& value) {
    if (seen_.empty()) {
      for (const auto& entry : object) {
        if (entry.first == key) return nullptr;
      }
      if (object.size() >= kScanLimit) {
        for (const auto& entry : object) seen_.insert(entry.first);
      }
    }
    if (!seen_.empty() && !seen_.insert(key).second) return nullptr;
    object.emplace_back(std::move(key), std::move(value));  // std::vector::emplace_back: no second scan
    return &object.back().second;
  }

 private:
  static constexpr std::size_t kScanLimit = 32;
  std::unordered_set<std::string> seen_;
};

}  // namespace podguard

// Building JSON objects from a parser. Json's objects are nlohmann's
// ordered_map, whose members are std::pair<const JsonString, Json>: the
// const key makes the pair impossible to move, so an object that grows
// while it is filled deep-copies every member already read on each
// reallocation. Members are gathered here instead, in movable pairs, and
// moved once into an object reserved to the right size. Duplicate keys are
// refused; past a few dozen keys a hash set takes over, so a hostile object
// with a hundred thousand keys costs linear time, not quadratic.
//
// An ObjectBuilder belongs to one parser on one thread; it is not
// synchronised.
#pragma once

#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "engine/reading/document.h"

namespace podguard {

class ObjectBuilder {
 public:
  // Appends key -> value unless the key is there; returns the new value (valid
  // until the next add), or nullptr for a duplicate, leaving `key` untouched.
  Json* add(JsonString&& key, Json&& value) {
    Json* slot = add(std::move(key));
    if (slot != nullptr) *slot = std::move(value);
    return slot;
  }

  // Like add with a null value, made in place (a parser fills it next).
  // After a merge, a key that only a merge set is replaced, not a duplicate.
  Json* add(JsonString&& key) {
    if (!where_.empty()) return add_after_merge(std::move(key));
    if (!is_new(key)) return nullptr;
    members_.emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(key)), std::forward_as_tuple());
    return &members_.back().second;
  }

  // A member from a YAML merge key (`<<`), set the way kubectl's YAML
  // library (go-yaml v2) sets it: at the point the merge is written, over
  // whatever an earlier key or merge set; a key written after the merge
  // replaces it again.
  void merge(const JsonString& key, const Json& value) {
    start_merging();
    const auto [it, added] = where_.try_emplace(key, members_.size());
    if (added) {
      members_.emplace_back(key, value);
      merged_.push_back(true);
    } else {
      members_[it->second].second = value;
      merged_[it->second] = true;
    }
  }

  // Makes `target` the object and empties the builder (keeping its capacity
  // for the next object at this depth).
  void finish_into(Json& target) {
    target = Json::object();
    auto& object = target.get_ref<Json::object_t&>();
    object.reserve(members_.size());
    for (auto& member : members_) object.emplace_back(std::move(member.first), std::move(member.second));
    clear();
  }

  void clear() {
    members_.clear();
    if (!seen_.empty()) seen_.clear();
    if (!where_.empty()) {  // only after a YAML merge
      where_.clear();
      merged_.clear();
    }
  }

 private:
  // Indexes the members once a merge happens (rare; merges touch keys by
  // name, and a hostile file may merge many keys into a big map).
  void start_merging() {
    if (!where_.empty()) return;
    for (std::size_t i = 0; i < members_.size(); ++i) where_.emplace(members_[i].first, i);
    merged_.assign(members_.size(), false);
  }

  Json* add_after_merge(JsonString&& key) {
    const auto [it, added] = where_.try_emplace(key, members_.size());
    if (!added) {
      if (!merged_[it->second]) return nullptr;  // written twice
      merged_[it->second] = false;
      Json& slot = members_[it->second].second;
      slot = Json();
      return &slot;
    }
    members_.emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(key)), std::forward_as_tuple());
    merged_.push_back(false);
    return &members_.back().second;
  }

  static constexpr std::size_t kScanLimit = 32;

  // False for a key already added.
  bool is_new(const JsonString& key) {
    if (seen_.empty()) {
      for (const auto& member : members_) {
        // Length and first byte before memcmp: most keys differ in one.
        const JsonString& k = member.first;
        if (k.size() == key.size() && k[0] == key[0] && k == key) return false;
      }
      if (members_.size() >= kScanLimit) {
        for (const auto& member : members_) seen_.insert(member.first);
      }
    }
    return seen_.empty() || seen_.insert(key).second;
  }
  struct KeyHash {
    std::size_t operator()(const JsonString& key) const noexcept { return std::hash<std::string_view>()(key); }
  };
  std::vector<std::pair<JsonString, Json>> members_;
  std::unordered_set<JsonString, KeyHash> seen_;
  // Once a merge happened: where each key is, and whether a merge set it.
  std::unordered_map<JsonString, std::size_t, KeyHash> where_;
  std::vector<bool> merged_;
};

}  // namespace podguard

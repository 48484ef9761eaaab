// A bounded map that forgets its least recently used entries, each entry
// with an optional expiry time. Expired entries are not returned by get()
// but stay (until pushed out) so that get_stale() can still offer them for
// revalidation: a tag whose TTL ran out is checked with one HEAD request
// when its image is still cached.
//
// Not synchronised: ImageLookup guards its caches with its own mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace podguard::registry {

// Hash and Equal may be transparent (is_transparent): get() then takes
// any key they take.
template <typename Key, typename Value, typename Hash = std::hash<Key>, typename Equal = std::equal_to<Key>>
class LruCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LruCache(std::size_t capacity) : capacity_(capacity) {}

  // The value when present and not expired at `now`, marked recently used;
  // nullptr otherwise. The pointer is valid until the next put or erase.
  // K: the Key, or what Hash and Equal also take (a string_view for string
  // keys, so that a lookup copies nothing).
  template <typename K>
  const Value* get(const K& key, Clock::time_point now) {
    const auto it = index_.find(key);
    if (it == index_.end() || it->second->expires <= now) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->value;
  }

  // The value even when expired, without marking it used; nullptr when absent.
  const Value* get_stale(const Key& key) const {
    const auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->value;
  }

  void put(const Key& key, Value value, Clock::time_point expires = Clock::time_point::max()) {
    if (capacity_ == 0) return;
    if (const auto it = index_.find(key); it != index_.end()) {
      it->second->value = std::move(value);
      it->second->expires = expires;
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (index_.size() >= capacity_) {
      index_.erase(order_.back().key);
      order_.pop_back();
    }
    order_.push_front(Entry{key, std::move(value), expires});
    index_.emplace(key, order_.begin());
  }

  void erase(const Key& key) {
    if (const auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
  }

  [[nodiscard]] std::size_t size() const { return index_.size(); }

 private:
  struct Entry {
    Key key;
    Value value;
    Clock::time_point expires;
  };

  std::size_t capacity_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<Key, typename std::list<Entry>::iterator, Hash, Equal> index_;
};

// A transparent hash for string keys: find("text"sv) without a std::string.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

template <typename Value>
using StringLruCache = LruCache<std::string, Value, StringHash, std::equal_to<>>;

}  // namespace podguard::registry

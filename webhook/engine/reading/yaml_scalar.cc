#include "engine/reading/yaml_scalar.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace podguard {
namespace {

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

bool is_one_of(std::string_view v, std::initializer_list<std::string_view> words) {
  for (std::string_view w : words) {
    if (v == w) return true;
  }
  return false;
}

std::optional<bool> as_bool(std::string_view v) {
  if (is_one_of(v, {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"})) return true;
  if (is_one_of(v, {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"})) return false;
  return std::nullopt;
}

bool is_null(std::string_view v) { return is_one_of(v, {"", "~", "null", "Null", "NULL"}); }

// Integers as Go's strconv.ParseInt(s, 0, 64) reads them after underscores
// are removed: optional sign, then decimal, 0x hex, 0o or leading-0 octal,
// or 0b binary.
std::optional<Json> as_int(std::string_view v) {
  std::string digits;
  digits.reserve(v.size());
  for (char c : v) {
    if (c != '_') digits += c;
  }
  std::string_view s = digits;
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  std::uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude, base);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  if (!negative) {
    if (magnitude <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Json(static_cast<std::int64_t>(magnitude));
    }
    return Json(magnitude);
  }
  constexpr auto kMinMagnitude = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1;
  if (magnitude > kMinMagnitude) return std::nullopt;
  if (magnitude == kMinMagnitude) return Json(std::numeric_limits<std::int64_t>::min());
  return Json(-static_cast<std::int64_t>(magnitude));
}

std::optional<Json> as_float(std::string_view v) {
  if (is_one_of(v, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    return Json(std::numeric_limits<double>::infinity());
  }
  if (is_one_of(v, {"-.inf", "-.Inf", "-.INF"})) return Json(-std::numeric_limits<double>::infinity());
  if (is_one_of(v, {".nan", ".NaN", ".NAN"})) return Json(std::numeric_limits<double>::quiet_NaN());
  std::string plain;
  plain.reserve(v.size());
  for (char c : v) {
    if (c != '_') plain += c;
  }
  std::string_view s = plain;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  // Only decimal forms: digits, one dot, an exponent. from_chars would also
  // take "inf" and "nan", which YAML spells differently.
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '.' && c != 'e' && c != 'E' && c != '-' && c != '+') {
      return std::nullopt;
    }
  }
  if (!digit) return std::nullopt;
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return Json(d);
}

Json resolve_plain(const std::string& value) {
  if (value.empty()) return Json(nullptr);
  const char first = value[0];
  // Cheap first-character screen: most scalars in a manifest are words.
  const bool numeric_start = (first >= '0' && first <= '9') || first == '-' || first == '+' || first == '.';
  if (numeric_start) {
    if (auto i = as_int(value)) return *i;
    if (auto f = as_float(value)) return kubectl_number(f->get<double>());
    return Json(value);
  }
  if (is_null(value)) return Json(nullptr);
  if (auto b = as_bool(value)) return Json(*b);
  return Json(value);
}

}  // namespace

Result<Json> resolve_yaml_scalar(const std::string& tag, const std::string& value) {
  if (tag == "?") return resolve_plain(value);
  if (tag == "!" || tag.compare(0, kTagPrefix.size(), kTagPrefix) != 0) return Json(value);
  const std::string_view type = std::string_view(tag).substr(kTagPrefix.size());
  if (type == "str" || type == "binary" || type == "timestamp") return Json(value);
  const char* expected = nullptr;
  if (type == "int") {
    if (auto i = as_int(value)) return *i;
    expected = "an integer";
  } else if (type == "float") {
    if (auto i = as_int(value)) return *i;  // kubectl writes !!float 1 as 1
    if (auto f = as_float(value)) return kubectl_number(f->get<double>());
    expected = "a number";
  } else if (type == "bool") {
    if (auto b = as_bool(value)) return Json(*b);
    expected = "a boolean";
  } else if (type == "null") {
    if (is_null(value)) return Json(nullptr);
    expected = "null";
  } else {
    return Json(value);
  }
  return Status::invalid_input("\"" + value + "\" is tagged !!" + std::string(type) + " but is not " + expected);
}

std::string plain_key_as_kubectl_writes(const std::string& key) {
  if (key.empty()) return key;
  const char first = key[0];
  const bool numeric_start = (first >= '0' && first <= '9') || first == '-' || first == '+';
  if (numeric_start) {
    if (auto i = as_int(key)) return std::string(i->dump());
    return key;
  }
  if (auto b = as_bool(key)) return *b ? "true" : "false";
  return key;
}

}  // namespace podguard

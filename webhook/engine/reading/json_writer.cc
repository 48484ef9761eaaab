#include "engine/reading/json_writer.h"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace podguard {
namespace {

// The length of the well-formed UTF-8 sequence starting at s[i] (a byte >=
// 0x80), or 0 when it is not one (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF: what nlohmann's decoder accepts).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) -> unsigned { return static_cast<unsigned char>(s[k]); };
  const unsigned b0 = at(i);
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    const unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

// The escape of a byte below 0x20, '"' or '\\', as nlohmann writes it.
void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    default: {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
      out.append(escaped, sizeof escaped);
      return;
    }
  }
}

std::uint64_t load8(const char* p) {
  std::uint64_t x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

// Whether any of the eight bytes in x is below 0x20, '"', '\\' or above
// 0x7F (the classic "has a zero byte" test, on x and on x with the two
// characters xor-ed away).
bool needs_look(std::uint64_t x) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  const auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t below_space = (x - kOnes * 0x20) & ~x & kHigh;
  return ((x & kHigh) | below_space | has_zero(x ^ (kOnes * '"')) | has_zero(x ^ (kOnes * '\\'))) != 0;
}

// Appends `s` quoted and escaped. False (with nothing appended) when `s`
// is not valid UTF-8.
bool append_string(std::string& out, std::string_view s) {
  const std::size_t start_size = out.size();
  out += '"';
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  while (i < s.size()) {
    // Eight bytes at a time while none needs a second look.
    while (i + 8 <= s.size() && !needs_look(load8(s.data() + i))) i += 8;
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) {
        out.resize(start_size);
        return false;
      }
      i += n;
      continue;
    }
    out.append(s.data() + run, i - run);
    append_escape(out, c);
    run = ++i;
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
  return true;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  if (append_string(out, s)) return;
  // Invalid UTF-8: nlohmann's replacement (U+FFFD for each bad sequence).
  const Json as_json(s);
  out += as_json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

template <typename Int>
void append_integer(std::string& out, Int v) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, static_cast<std::size_t>(end - digits));
}

void append_value(std::string& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, member] : v.get_ref<const Json::object_t&>()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, std::string_view(key.data(), key.size()));
        out += ':';
        append_value(out, member);
      }
      out += '}';
      return;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& item : v) {
        if (!first) out += ',';
        first = false;
        append_value(out, item);
      }
      out += ']';
      return;
    }
    case Json::value_t::string: {
      const auto& s = v.get_ref<const JsonString&>();
      append_json_string(out, std::string_view(s.data(), s.size()));
      return;
    }
    case Json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case Json::value_t::number_integer:
      append_integer(out, v.get<std::int64_t>());
      return;
    case Json::value_t::number_unsigned:
      append_integer(out, v.get<std::uint64_t>());
      return;
    case Json::value_t::null:
    case Json::value_t::discarded:  // nlohmann writes "<discarded>"; never in an answer
      if (v.is_discarded()) break;
      out += "null";
      return;
    case Json::value_t::number_float:  // nlohmann's shortest round-trip form
    case Json::value_t::binary:
      break;
  }
  out += v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

void append_json(std::string& out, const Json& value) { append_value(out, value); }

std::string write_json(const Json& value) {
  std::string out;
  out.reserve(512);  // an admission answer, most of the time, in one allocation
  append_json(out, value);
  return out;
}

}  // namespace podguard

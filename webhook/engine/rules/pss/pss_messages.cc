#include "engine/rules/pss/pss_messages.h"

#include <algorithm>

namespace podguard::pss {

namespace {

constexpr std::size_t kMaxPrintable = 80;

}  // namespace

std::string message(std::string_view reason, std::string_view detail, std::string_view remedy) {
  std::string out;
  out.reserve(reason.size() + detail.size() + remedy.size() + 4);
  out += reason;
  out += ": ";
  out += detail;
  out += "; ";
  out += remedy;
  return out;
}

std::string printable(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const bool cut = value.size() > kMaxPrintable;
  if (cut) value = value.substr(0, kMaxPrintable);
  for (char ch : value) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += ch;
    }
  }
  if (cut) out += "...";
  return out;
}

std::string quote(std::string_view value) {
  std::string out = "\"";
  out += printable(value);
  out += '"';
  return out;
}

std::string join_quoted(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    if (!out.empty()) out += ", ";
    out += quote(v);
  }
  return out;
}

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ", ";
    out += printable(values[i]);
  }
  return out;
}

std::string_view pluralize(std::string_view singular, std::string_view plural, std::size_t n) {
  return n == 1 ? singular : plural;
}

std::vector<std::string> sorted_unique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

std::string setter(const ContainerView* container) { return container == nullptr ? "pod" : describe(*container); }

std::string canonical_capability(std::string_view capability) {
  std::string out(capability);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char ch) { return ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch; });
  if (out.rfind("CAP_", 0) == 0) out.erase(0, 4);
  if (out == capability) return {};
  return out;
}

}  // namespace podguard::pss

#include "engine/facts/image_reference.h"

#include "engine/reading/image_manifest.h"

namespace podguard {
namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A path component: [a-z0-9]+ joined by ".", "_", "__" or runs of "-".
bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (std::size_t i = 0; i < c.size(); ++i) {
    const char ch = c[i];
    if (lower_alnum(ch) || ch == '-') continue;
    if (ch == '.' || ch == '_') {
      // separators may not repeat, except "__"
      const bool double_underscore = ch == '_' && i + 1 < c.size() && c[i + 1] == '_';
      if (double_underscore) ++i;
      if (i + 1 < c.size() && !lower_alnum(c[i + 1])) return false;
      continue;
    }
    return false;
  }
  return true;
}

bool valid_registry(std::string_view r) {
  if (r.empty()) return false;
  std::string_view host = r;
  if (r.front() == '[') {  // IPv6 literal
    const auto close = r.find(']');
    if (close == std::string_view::npos) return false;
    host = r.substr(0, close + 1);
    r.remove_prefix(close + 1);
  } else {
    const auto colon = r.find(':');
    host = r.substr(0, colon);
    r = colon == std::string_view::npos ? std::string_view() : r.substr(colon);
    for (char c : host) {
      const bool ok = lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-';
      if (!ok) return false;
    }
    if (host.empty()) return false;
  }
  if (!r.empty()) {  // ":port"
    if (r.front() != ':' || r.size() == 1) return false;
    for (char c : r.substr(1)) {
      if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

bool valid_tag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

}  // namespace

ImageParse parse_image_reference(std::string_view image) {
  ImageParse out;
  if (image.empty()) {
    out.error = "the image is empty";
    return out;
  }
  for (char c : image) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      out.error = "the image contains whitespace";
      return out;
    }
  }
  ImageReference ref;
  std::string_view rest = image;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    if (std::string why = digest_problem(ref.digest); !why.empty()) {
      out.error = why;
      return out;
    }
  }
  // The tag follows the last ':' after the last '/'; an earlier ':' is a port.
  const auto last_slash = rest.rfind('/');
  const auto last_colon = rest.rfind(':');
  if (last_colon != std::string_view::npos && (last_slash == std::string_view::npos || last_colon > last_slash)) {
    ref.tag = rest.substr(last_colon + 1);
    rest = rest.substr(0, last_colon);
    if (!valid_tag(ref.tag)) {
      out.error = "the tag \"" + ref.tag + "\" is not valid (letters, digits, '_', '.' and '-', at most 128)";
      return out;
    }
  }
  // The first component is a registry when it has a '.', a ':', is
  // "localhost" or has capitals (which repositories cannot).
  const auto first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    const std::string_view first = rest.substr(0, first_slash);
    const bool has_upper = first.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string_view::npos;
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost" || has_upper ||
        first.front() == '[') {
      if (!valid_registry(first)) {
        out.error = "the registry \"" + std::string(first) + "\" is not a valid host[:port]";
        return out;
      }
      ref.registry = first;
      ref.explicit_registry = true;
      rest = rest.substr(first_slash + 1);
    }
  }
  if (ref.registry.empty()) ref.registry = "docker.io";
  if (rest.empty()) {
    out.error = "the image has no repository name";
    return out;
  }
  std::string_view path = rest;
  while (true) {
    const auto slash = path.find('/');
    if (!valid_component(path.substr(0, slash))) {
      out.error = "the repository \"" + std::string(rest) +
                  "\" is not valid (lowercase letters, digits and separators only)";
      return out;
    }
    if (slash == std::string_view::npos) break;
    path = path.substr(slash + 1);
  }
  ref.repository = rest;
  if (ref.registry == "index.docker.io") ref.registry = "docker.io";
  if (ref.registry == "docker.io" && ref.repository.find('/') == std::string::npos) {
    ref.repository = "library/" + ref.repository;
  }
  out.ref = std::move(ref);
  return out;
}

}  // namespace podguard

#include "engine/reading/skipped_fields.h"

namespace podguard {

Result<SkippedFields> SkippedFields::compile(const std::vector<std::string>& patterns) {
  SkippedFields out;
  for (const std::string& pattern : patterns) {
    std::string_view rest = pattern;
    bool anywhere = false;
    if (rest.substr(0, 3) == "**.") {
      anywhere = true;
      rest.remove_prefix(3);
    }
    std::vector<std::string_view> keys;
    while (true) {
      const auto dot = rest.find('.');
      keys.push_back(rest.substr(0, dot));
      if (dot == std::string_view::npos) break;
      rest.remove_prefix(dot + 1);
    }
    for (std::string_view key : keys) {
      if (key.empty() || key == "**") {
        return Status::invalid_input("skipped field pattern \"" + pattern +
                                     "\": keys must be non-empty, and ** may only lead the pattern");
      }
    }
    if (out.nodes_.size() + keys.size() > kMaxSteps) {
      return Status::too_large("skipped field patterns: more than " + std::to_string(kMaxSteps) + " keys in all");
    }
    const std::size_t first = out.nodes_.size();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      Node n;
      n.key = std::string(keys[i]);
      n.any_key = keys[i] == "*";
      n.last = i + 1 == keys.size();
      if (!n.last) n.next = State{1} << (first + i + 1);
      out.nodes_.push_back(std::move(n));
    }
    (anywhere ? out.anywhere_ : out.root_) |= State{1} << first;
  }
  out.root_ |= out.anywhere_;
  return out;
}

}  // namespace podguard

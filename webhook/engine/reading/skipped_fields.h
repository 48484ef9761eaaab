// Fields a caller will never read, which the JSON reader leaves out of the
// documents it builds: they are still checked for syntax and counted
// against ReadLimits::max_nodes, but no value is made for them. The reader
// knows nothing of what they mean; admission, for example, passes the
// AdmissionReview members no rule reads (engine/admission/admission.h).
//
// A pattern is a dotted list of keys from the document's root; `*` matches
// any one key, and a leading `**.` lets the rest match at any depth:
//
//   request.userInfo              the member userInfo of the top-level request
//   request.*.status              status of every member of request
//   **.metadata.managedFields     managedFields of any object's metadata
//
// Immutable once built; share one between threads freely. Matching is a few
// bit operations and one string comparison per candidate key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace podguard {

class SkippedFields {
 public:
  // Which steps of the patterns are candidates for the keys of one object:
  // a bit per step, at most kMaxSteps of them.
  using State = std::uint64_t;
  static constexpr std::size_t kMaxSteps = 64;

  // An invalid pattern (empty, an empty key, `**` anywhere but at the
  // front, more than kMaxSteps keys in all) is an invalid-input Status.
  static Result<SkippedFields> compile(const std::vector<std::string>& patterns);

  // Candidates for the members of the document's root object.
  [[nodiscard]] State root() const { return root_; }

  struct Step {
    bool skip = false;  // the key is to be left out
    State next = 0;     // candidates for the members of its value
  };
  // What `key`, a member of an object whose candidates are `state`, is.
  [[nodiscard]] Step member(State state, std::string_view key) const {
    Step out{false, anywhere_};
    for (State s = state; s != 0; s &= s - 1) {
      const Node& n = nodes_[static_cast<std::size_t>(__builtin_ctzll(s))];
      if (!n.any_key && (n.key.size() != key.size() || n.key.compare(0, std::string::npos, key.data(), key.size()) != 0)) {
        continue;
      }
      if (n.last) {
        out.skip = true;
        return out;
      }
      out.next |= n.next;
    }
    return out;
  }

 private:
  struct Node {
    std::string key;
    bool any_key = false;
    bool last = false;
    State next = 0;  // the pattern's following step
  };

  std::vector<Node> nodes_;
  State root_ = 0;
  State anywhere_ = 0;  // first steps of `**.` patterns: candidates in every object
};

}  // namespace podguard

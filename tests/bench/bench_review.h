// What the review loops (review_loop, cached_lookup_loop) share: the review
// file read and made compact, as the API server sends it, and timing.
#pragma once

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "engine/reading/document.h"

namespace podguard::bench {

using Clock = std::chrono::steady_clock;

inline double us_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// The AdmissionReview in `path`, compact; exits 2 (naming `tool`) when it
// cannot be read or is not JSON.
inline std::string compact_review(const char* tool, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << tool << ": cannot read " << path << "\n";
    std::exit(2);
  }
  std::ostringstream text;
  text << in.rdbuf();
  const Json review = Json::parse(text.str(), nullptr, false);
  if (review.is_discarded()) {
    std::cerr << tool << ": " << path << " is not JSON\n";
    std::exit(2);
  }
  const auto compact = review.dump();
  return std::string(compact.data(), compact.size());
}

}  // namespace podguard::bench

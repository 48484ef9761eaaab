#include <doctest/doctest.h>

#include <string>

#include "engine/policy/glob.h"

namespace podguard {

TEST_CASE("glob matching") {
  CHECK(glob_match("dev-*", "dev-team-a"));
  CHECK(glob_match("dev-*", "dev-"));
  CHECK_FALSE(glob_match("dev-*", "prod-dev-a"));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("registry.k8s.io/pause:*", "registry.k8s.io/pause:3.9"));
  CHECK_FALSE(glob_match("registry.k8s.io/pause:*", "registry.k8s.io/pause"));
  CHECK(glob_match("team-?", "team-a"));
  CHECK_FALSE(glob_match("team-?", "team-ab"));
  CHECK(glob_match("team-[abc]", "team-b"));
  CHECK_FALSE(glob_match("team-[!abc]", "team-b"));
  CHECK(glob_match("v[0-9]*", "v1.2"));
  CHECK(glob_match("a\\*b", "a*b"));
  CHECK_FALSE(glob_match("a\\*b", "axb"));
  CHECK(glob_match("*a*b*c*", "xxaxxbxxcxx"));
  CHECK_FALSE(glob_match("*a*b*c*", "xxaxxcxxbxx"));
  CHECK(glob_match("exact", "exact"));
  CHECK_FALSE(glob_match("exact", "exactly"));
}

TEST_CASE("pathological patterns stay fast and malformed ones match nothing") {
  const std::string text(2000, 'a');
  CHECK_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*b", text));
  CHECK_FALSE(glob_match("team-[ab", "team-a"));
}

TEST_CASE("glob validation") {
  CHECK_FALSE(glob_error("dev-*"));
  CHECK_FALSE(glob_error("[a-z]?"));
  CHECK(glob_error(""));
  CHECK(glob_error("team-[ab"));
  CHECK(glob_error("[z-a]"));
  CHECK(glob_error("trailing\\"));
}

TEST_CASE("glob_match_any") {
  CHECK(glob_match_any({"a", "b*"}, "bee"));
  CHECK_FALSE(glob_match_any({}, "anything"));
}

}  // namespace podguard

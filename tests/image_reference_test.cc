#include <doctest/doctest.h>

#include "engine/facts/image_reference.h"

namespace podguard {

TEST_CASE("image references parse like the container runtime parses them") {
  struct Case {
    const char* image;
    const char* registry;
    const char* repository;
    const char* tag;
    bool digest;
  };
  const Case cases[] = {
      {"nginx", "docker.io", "library/nginx", "", false},
      {"nginx:1.25", "docker.io", "library/nginx", "1.25", false},
      {"registry:5000/app", "registry:5000", "app", "", false},
      {"registry:5000/app:2.1", "registry:5000", "app", "2.1", false},
      {"localhost/app:dev", "localhost", "app", "dev", false},
      {"ghcr.io/acme/api:3f9c2ab", "ghcr.io", "acme/api", "3f9c2ab", false},
      {"acme/api", "docker.io", "acme/api", "", false},
      {"app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io", "library/app", "",
       true},
      {"app:1.2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "docker.io",
       "library/app", "1.2", true},
      {"[::1]:5000/app:1", "[::1]:5000", "app", "1", false},
      {"index.docker.io/library/redis:7", "docker.io", "library/redis", "7", false},
  };
  for (const Case& c : cases) {
    INFO(c.image);
    const ImageParse parsed = parse_image_reference(c.image);
    REQUIRE_MESSAGE(parsed.ref, parsed.error);
    CHECK(parsed.ref->registry == c.registry);
    CHECK(parsed.ref->repository == c.repository);
    CHECK(parsed.ref->tag == c.tag);
    CHECK(parsed.ref->digest.empty() == !c.digest);
  }
}

TEST_CASE("invalid image references say why") {
  for (const char* bad : {"", "app:", "App/Name:1", "app@sha256:abc", "app@sha256:XYZ", "app:bad tag", ":1.0",
                          "app:-leading", "reg:port/app"}) {
    INFO(bad);
    const ImageParse parsed = parse_image_reference(bad);
    CHECK_FALSE(parsed.ref);
    CHECK_FALSE(parsed.error.empty());
  }
}

}  // namespace podguard

// A registry a known round trip away, for tests/bench/lookup_bench.sh: the
// in-process fake registry (tests/registry/fake_registry.h) on 127.0.0.1,
// every request answered after DELAY_MS, serving
//   - bench/img<K>:r<R> for K < REPOS and R < ROUNDS, each a single-platform
//     image (or with --multi-platform an index of linux/amd64 and
//     linux/arm64) with a config of its own: looking one up costs the
//     manifest GET and the config blob GET (plus the index GET), none of them
//     answered by a cache filled by another;
//   - with --review IN OUT, the images review IN names, under their own
//     repositories and tags (references pinned by digest are re-pinned to
//     the pushed images' digests in OUT).
// Prints its host:port, then serves until SIGTERM or SIGINT, and then prints
// how many requests of each kind it answered.
//   slow_registry [--delay-ms 20] [--repos 8] [--rounds 20] [--multi-platform]
//                 [--review IN OUT]
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "bench/bench_images.h"

int main(int argc, char** argv) {
  int delay_ms = 20, repos = 8, rounds = 20;
  bool multi = false;
  std::string review_in, review_out;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--delay-ms" && has_value) {
      delay_ms = std::stoi(argv[++i]);
    } else if (arg == "--repos" && has_value) {
      repos = std::stoi(argv[++i]);
    } else if (arg == "--rounds" && has_value) {
      rounds = std::stoi(argv[++i]);
    } else if (arg == "--multi-platform") {
      multi = true;
    } else if (arg == "--review" && i + 2 < argc) {
      review_in = argv[++i];
      review_out = argv[++i];
    } else {
      std::cerr << "usage: slow_registry [--delay-ms 20] [--repos 8] [--rounds 20] [--multi-platform] "
                   "[--review IN OUT]\n";
      return 2;
    }
  }
  // Blocked before the server's threads start, so that sigwait gets them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  podguard::testing::FakeRegistry::Options options;
  options.delay = std::chrono::milliseconds(delay_ms);
  podguard::testing::FakeRegistry registry(options);
  for (int k = 0; k < repos; ++k) {
    for (int r = 0; r < rounds; ++r) {
      const std::string repo = "bench/img" + std::to_string(k), tag = "r" + std::to_string(r);
      // Configs are cached by digest: one of their own per registry kind too.
      const std::string id = std::string(multi ? "multi-" : "") + std::to_string(k) + "-" + tag;
      if (multi) {
        podguard::testing::ConfigSpec amd64 = podguard::testing::passing_image(id), arm64 = amd64;
        arm64.architecture = "arm64";
        registry.push(podguard::testing::multi_platform(repo, tag, {amd64, arm64}, false));
      } else {
        registry.push(podguard::testing::single_image(repo, tag, podguard::testing::passing_image(id)));
      }
    }
  }
  if (!review_in.empty()) {
    std::ifstream in(review_in, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    std::string review(podguard::Json::parse(text.str()).dump());
    try {
      for (const std::string& named : podguard::testing::push_review_images(registry, review)) {
        std::cerr << "slow_registry: serving the images of " << named << " in " << review_in << "\n";
      }
    } catch (const std::exception& e) {
      std::cerr << "slow_registry: " << review_in << ": " << e.what() << "\n";
      return 2;
    }
    std::ofstream(review_out, std::ios::binary) << review;
  }
  std::printf("%s\n", registry.host().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop, &signal_number);
  std::fprintf(stderr, "slow_registry: answered %zu manifest GETs, %zu manifest HEADs, %zu blob GETs, %zu in all\n",
               registry.count("GET", "/manifests/"), registry.count("HEAD", "/manifests/"),
               registry.count("GET", "/blobs/"), registry.seen().size());
  return 0;
}

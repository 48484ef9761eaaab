// The webhook's admission work on one review in a loop, without HTTP or TLS:
// where a review's CPU goes (read, judge, answer, free). For work on the
// document model; the webhook benchmark (webhook_bench.sh) measures the
// whole server.
//   review_loop [REVIEW_FILE=tests/bench/pod-review.json] [SECONDS=3]
// Deterministic instruction counts: valgrind --tool=callgrind review_loop F 0.2
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include "bench/bench_review.h"
#include "engine/admission/admission.h"
#include "engine/reading/document.h"
#include "engine/reading/json_writer.h"
#include "engine/rules/builtin.h"

using podguard::bench::Clock;
using podguard::bench::us_since;

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "tests/bench/pod-review.json";
  const double seconds = argc > 2 ? std::stod(argv[2]) : 3.0;
  const std::string body = podguard::bench::compact_review("review_loop", path);
  const podguard::Policy policy = podguard::Policy::defaults(podguard::builtin_rules());

  double read_us = 0, judge_us = 0, answer_us = 0, free_us = 0;
  long reviews = 0;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  do {
    auto t = Clock::now();
    podguard::ReadResult read = podguard::read_admission_review(body);
    read_us += us_since(t);
    t = Clock::now();
    podguard::AdmissionResult result = podguard::review_admission_read(policy, read);
    judge_us += us_since(t);
    if (!result.outcome) {
      std::cerr << "review_loop: " << path << " is not a valid review: " << result.error.message() << "\n";
      return 2;
    }
    t = Clock::now();
    const std::string answer(podguard::write_json(result.outcome->response));  // as the webhook answers
    answer_us += us_since(t);
    t = Clock::now();
    read = {};
    result = {};
    free_us += us_since(t);
    ++reviews;
  } while (Clock::now() < end);
  const double n = static_cast<double>(reviews);
  std::printf("review %zu bytes, %ld reviews: %.1f us each (read %.1f, judge %.1f, answer %.1f, free %.1f)\n",
              body.size(), reviews, (read_us + judge_us + answer_us + free_us) / n, read_us / n, judge_us / n,
              answer_us / n, free_us / n);
  return 0;
}

// review_loop's admission work with image lookups on and every image in the
// lookup's cache, against the same work with lookups off (today's), on the
// same review, alternating in one loop: what a cached lookup adds to a
// review (issue 11 item 7: at most 5%). The cached side is the webhook's
// (webhook_server.cc look_up_images): admission_images, ImageLookup::cached
// per image, registry::known_images, review_admission_read with them.
//
// The lookup is real: it is warmed against a registry in this process
// (tests/registry/fake_registry.h) that answers for the review's registries
// as their mirror, each image a single-platform image that passes every
// image rule. A reference pinned by digest is re-pinned to the digest of
// the image pushed for it (same length), in both sides' review.
//   cached_lookup_loop [REVIEW_FILE=tests/bench/pod-review.json] [SECONDS=3]
// Instructions per review (callgrind_annotate --inclusive=yes, divided by
// the reviews printed): review_today and review_with_cached_images.
//   valgrind --tool=callgrind cached_lookup_loop F 0.5
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_images.h"
#include "bench/bench_review.h"
#include "engine/admission/admission.h"
#include "engine/reading/document.h"
#include "engine/reading/json_writer.h"
#include "engine/rules/builtin.h"
#include "registry/image_lookup.h"
#include "registry/policy_images.h"

namespace {

using podguard::bench::Clock;
using podguard::bench::us_since;
using podguard::registry::ImageLookup;
using podguard::registry::ImageResult;

struct Phases {
  double read = 0, images = 0, judge = 0, answer = 0, free = 0;
  long reviews = 0;
  [[nodiscard]] double total() const { return read + images + judge + answer + free; }
};

void fail_review(const podguard::AdmissionResult& result) {
  if (result.outcome) return;
  std::cerr << "cached_lookup_loop: not a valid review: " << result.error.message() << "\n";
  std::exit(2);
}

// The answer's bytes, then the review and its result freed (as the webhook
// does after sending).
void answer_and_free(podguard::ReadResult& read, podguard::AdmissionResult& result, Phases& p) {
  fail_review(result);
  auto t = Clock::now();
  const std::string answer(podguard::write_json(result.outcome->response));  // as the webhook answers
  p.answer += us_since(t);
  t = Clock::now();
  read = {};
  result = {};
  p.free += us_since(t);
  ++p.reviews;
}

// The webhook with lookups off: read, decide, answer, free.
[[gnu::noinline]] void review_today(const podguard::Policy& policy, const std::string& body, Phases& p) {
  auto t = Clock::now();
  podguard::ReadResult read = podguard::read_admission_review(body);
  p.read += us_since(t);
  t = Clock::now();
  podguard::AdmissionResult result = podguard::review_admission_read(policy, read);
  p.judge += us_since(t);
  answer_and_free(read, result, p);
}

// The webhook with lookups on when the caches know every image
// (Webhook::look_up_images' first branch, then decide).
[[gnu::noinline]] void review_with_cached_images(const std::shared_ptr<const podguard::Policy>& shared_policy,
                                                 ImageLookup& lookup, podguard::registry::JudgedImages& judged,
                                                 const std::string& body, Phases& p) {
  const podguard::Policy& policy = *shared_policy;
  auto t = Clock::now();
  podguard::ReadResult read = podguard::read_admission_review(body);
  p.read += us_since(t);
  t = Clock::now();
  const std::vector<std::string_view> images = podguard::admission_images(policy, read);
  std::vector<ImageResult> known;
  known.reserve(images.size());
  for (const std::string_view image : images) {
    std::optional<ImageResult> hit = lookup.cached(image);
    if (!hit) break;
    known.push_back(std::move(*hit));
  }
  if (images.empty() || known.size() != images.size()) {
    std::cerr << "cached_lookup_loop: the lookup's cache does not know every image\n";
    std::exit(2);
  }
  const podguard::KnownImages answers = podguard::registry::known_images(images, std::move(known));
  // As the webhook's decide_with_images: the images' rule findings judged
  // once, on the first review, and reused.
  std::vector<std::shared_ptr<const podguard::ImageJudgement>> keep;
  podguard::ImageJudgements judgements;
  judged.judgements(shared_policy, answers, keep, judgements);
  p.images += us_since(t);
  t = Clock::now();
  podguard::AdmissionResult result =
      podguard::review_admission_read(policy, read, podguard::today_utc(), &answers, &judgements);
  p.judge += us_since(t);
  answer_and_free(read, result, p);
}

void print(const char* name, const Phases& p) {
  const double n = static_cast<double>(p.reviews);
  std::printf("  %-24s %7ld reviews  %6.2f us each (read %.2f, images %.2f, judge %.2f, answer %.2f, free %.2f)\n",
              name, p.reviews, p.total() / n, p.read / n, p.images / n, p.judge / n, p.answer / n, p.free / n);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "tests/bench/pod-review.json";
  const double seconds = argc > 2 ? std::stod(argv[2]) : 3.0;
  std::string body = podguard::bench::compact_review("cached_lookup_loop", path);  // re-pinned below

  const podguard::Policy today = podguard::Policy::defaults(podguard::builtin_rules());
  podguard::Policy on = today;
  on.images.lookup = true;
  on.images.tag_ttl_seconds = 24 * 3600;  // no revalidation during a slow (callgrind) run

  // One image per reference, in a registry that mirrors every registry named.
  podguard::testing::FakeRegistry registry;
  on.images.insecure_registries = {registry.host()};
  for (const std::string& named : podguard::testing::push_review_images(registry, body)) {
    on.images.mirrors.emplace_back(named, registry.host());
  }

  auto created = ImageLookup::create(podguard::registry::registry_options(on.images));
  if (!created.ok()) {
    std::cerr << "cached_lookup_loop: " << created.status().to_string() << "\n";
    return 2;
  }
  ImageLookup& lookup = **created;
  const podguard::ReadResult review = podguard::read_admission_review(body);
  const std::vector<std::string_view> images = podguard::admission_images(on, review);
  const std::vector<ImageResult> warmed = lookup.lookup_all({images.begin(), images.end()});
  for (std::size_t i = 0; i < images.size(); ++i) {
    if (!warmed[i].ok()) {
      std::cerr << "cached_lookup_loop: warming the cache: " << warmed[i].status().to_string() << "\n";
      return 2;
    }
  }
  // Both sides must decide alike (no image finding) for the comparison to
  // be of the lookups' cost alone.
  const podguard::KnownImages answers = podguard::registry::known_images(images, warmed);
  const podguard::AdmissionResult off_result = podguard::review_admission_text(today, body);
  const podguard::AdmissionResult on_result =
      podguard::review_admission_read(on, podguard::read_admission_review(body), podguard::today_utc(), &answers);
  fail_review(off_result);
  fail_review(on_result);

  const auto shared_on = std::make_shared<const podguard::Policy>(on);
  podguard::registry::JudgedImages judged;
  Phases off_phases, on_phases;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  do {
    review_today(today, body, off_phases);
    review_with_cached_images(shared_on, lookup, judged, body, on_phases);
  } while (Clock::now() < end);

  std::printf("review %zu bytes, %zu images (all cached), reviews alternating:\n", body.size(), images.size());
  print("lookups off (today)", off_phases);
  print("lookups on, cached", on_phases);
  std::printf("  ratio on/off %.3f (target <= 1.05); decision off %s, on %s; answer %zu vs %zu bytes\n",
              (on_phases.total() / static_cast<double>(on_phases.reviews)) /
                  (off_phases.total() / static_cast<double>(off_phases.reviews)),
              std::string(podguard::to_string(off_result.outcome->decision)).c_str(),
              std::string(podguard::to_string(on_result.outcome->decision)).c_str(),
              off_result.outcome->response.dump().size(), on_result.outcome->response.dump().size());
  std::printf("  audit images: %s\n",
              on_result.outcome->response["response"].value("auditAnnotations", podguard::Json::object()).dump().c_str());
  return 0;
}

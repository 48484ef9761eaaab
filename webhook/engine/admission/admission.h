// Admission decisions: an AdmissionReview in, the AdmissionReview response
// out, exactly as `podguard serve` sends it and `podguard review` prints it.
// No HTTP here; the server only moves bytes.
//
// Stateless; safe to call from many threads with one shared Policy.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/policy/evaluate.h"
#include "engine/reading/manifest_reader.h"

namespace podguard {

// Findings of one rule the webhook lists per object; the rest are summed
// up in one line ("and N more findings of this rule").
inline constexpr std::size_t kMaxFindingsPerRule = 10;

// The API server's limits on response.warnings.
inline constexpr std::size_t kMaxWarningLength = 256;
inline constexpr std::size_t kMaxWarningsTotal = 4096;

enum class Decision {
  kAllowed,    // no violation that denies (may carry warnings and audit annotations)
  kDenied,     // at least one deny violation that the object did not have before
  kUntouched,  // not evaluated: DELETE, CONNECT, a subresource, or a kind without a pod spec
};

std::string_view to_string(Decision d);

struct AdmissionOutcome {
  Json response;  // the AdmissionReview to send back

  // For logs and metrics.
  std::string uid;
  std::string kind;  // request.kind.kind
  std::string ns;
  std::string name;
  std::string operation;
  std::string sub_resource;
  bool dry_run = false;
  Decision decision = Decision::kUntouched;
  std::vector<Violation> violations;  // the object's violations after exemptions
  std::vector<bool> ratcheted;        // parallel: also present in oldObject, so not denying
  struct Omitted {
    OmittedFindings findings;  // beyond kMaxFindingsPerRule, counted only
    bool ratcheted = false;    // no more of them than in oldObject
  };
  std::vector<Omitted> omitted;
  std::vector<AppliedExemption> exempted;
};


struct AdmissionResult {
  std::optional<AdmissionOutcome> outcome;  // set unless error is
  Status error;  // invalid input: the review could not be decided (HTTP 400)
};

// Decides a parsed AdmissionReview (admission.k8s.io/v1, or v1beta1; the
// response uses the request's apiVersion and uid). `images` holds what
// lookups answered for the object's images (admission_images); with it the
// image rules judge them, and the response's audit annotation `images`
// records what each reference resolved to.
// `judged` (optional) holds the image rules' findings for some of those
// images, judged before under this policy (judge_image), as the webhook
// keeps them for cached images.
AdmissionResult review_admission(const Policy& policy, const Json& review, Day today = today_utc(),
                                 const KnownImages* images = nullptr, const ImageJudgements* judged = nullptr);

// The images to look up before deciding a review: those the object's
// containers name, when the policy looks images up (images.lookup) and the
// review is one that gets judged; empty otherwise (lookups off, DELETE,
// CONNECT, a subresource, a kind without a pod spec, a malformed review,
// which review_admission then answers without lookups). The views point
// into `review`.
std::vector<std::string_view> admission_images(const Policy& policy, const Json& review);

// Parses the body first; malformed JSON is an error.
AdmissionResult review_admission_text(const Policy& policy, std::string_view body, Day today = today_utc());

// review_admission_text in two halves, for a caller that wants to choose
// when the parsed review is freed (the webhook frees it after answering):
// the strict reader with the webhook's limits, then the decision on what it
// read (a read error or anything but one JSON value is an error).
ReadResult read_admission_review(std::string_view body);
// What read_admission_review leaves out of the review (still checked for
// syntax and counted): what no rule and no part of the decision reads, as
// SkippedFields patterns.
const std::vector<std::string>& unread_review_fields();
AdmissionResult review_admission_read(const Policy& policy, const ReadResult& read, Day today = today_utc(),
                                      const KnownImages* images = nullptr, const ImageJudgements* judged = nullptr);
// admission_images of what read_admission_review read.
std::vector<std::string_view> admission_images(const Policy& policy, const ReadResult& read);

// Fits warnings to the API server's limits: each at most kMaxWarningLength
// bytes (cut at a character boundary, ending in "..."), all together at most
// kMaxWarningsTotal, the last saying how many did not fit.
std::vector<std::string> fit_warnings(const std::vector<std::string>& warnings);

}  // namespace podguard

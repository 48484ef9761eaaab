#include "engine/rules/contract/run_as.h"

#include <limits>

#include "engine/reading/json_access.h"

namespace podguard::rules {
namespace {

// Go's strconv.ParseInt(s, 10, 64): an optional sign, then one or more
// decimal digits, within int64.
std::optional<std::int64_t> parse_go_int64(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  // Accumulate as a negative number: int64's range is one larger below zero.
  std::int64_t value = 0;
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  for (char ch : s) {
    if (ch < '0' || ch > '9') return std::nullopt;
    const int digit = ch - '0';
    if (value < (kMin + digit) / 10) return std::nullopt;  // value * 10 - digit would overflow
    value = value * 10 - digit;
  }
  if (negative) return value;
  if (value == kMin) return std::nullopt;
  return -value;
}

RunAs::Verdict judge_image_user(const ImageUser& user, std::int64_t min_uid) {
  if (!user.uid) return RunAs::Verdict::kImageName;
  if (*user.uid == 0) return RunAs::Verdict::kImageRoot;
  if (*user.uid < 0 || *user.uid > kMaxUid) return RunAs::Verdict::kImageInvalidUid;
  return *user.uid < min_uid ? RunAs::Verdict::kImageBelowMin : RunAs::Verdict::kNonRoot;
}

// Fills r.image_users from the facts lookups found for the container's
// image: every platform image judged, Windows images left out.
void read_image_users(const PodView& pod, const ContainerView& c, std::int64_t min_uid, RunAs& r) {
  if (pod.is_windows()) return;
  const ImageAnswer* answer = c.image_answer;
  if (answer == nullptr || answer->state != ImageAnswer::State::kFound || answer->facts == nullptr) return;
  for (const PlatformImage& image : answer->facts->images) {
    if (image.config->os == "windows") continue;
    const std::string_view user = image.config->user;
    RunAs::ImageUserVerdict* same = nullptr;
    for (RunAs::ImageUserVerdict& u : r.image_users) {
      if (u.user == user) same = &u;
    }
    if (same == nullptr) {
      const ImageUser read = read_image_user(user);
      same = &r.image_users.emplace_back(RunAs::ImageUserVerdict{user, read, judge_image_user(read, min_uid), {}});
    }
    same->platforms.push_back(&image);
  }
  if (!r.image_users.empty()) r.image = c.image;
}

}  // namespace

ImageUser read_image_user(std::string_view user) {
  // getUserFromImage: empty -> neither; else the part before the first ':',
  // a uid when ParseInt reads it, else a user name.
  ImageUser out;
  if (!user.empty()) {
    const std::string_view part = user.substr(0, user.find(':'));
    out.uid = parse_go_int64(part);
    if (!out.uid) out.name = part;
  }
  // getImageUser: "If non of them is set, treat it as root."
  if (!out.uid && out.name.empty()) out.uid = 0;
  return out;
}

bool RunAs::image_known_non_root() const {
  if (image_users.empty()) return false;
  for (const ImageUserVerdict& u : image_users) {
    if (!u.read.uid || *u.read.uid < 1 || *u.read.uid > kMaxUid) return false;
  }
  return true;
}

RunAs evaluate_run_as(const PodView& pod, const ContainerView& c, std::int64_t min_uid) {
  RunAs r;
  r.user = pod.effective(c, {"runAsUser"});
  r.non_root = pod.effective(c, {"runAsNonRoot"});
  r.uid = json::as_int(r.user.value);
  const std::optional<bool> non_root = json::as_bool(r.non_root.value);
  if (r.uid && *r.uid == 0) {
    r.verdict = RunAs::Verdict::kUserZero;
    return r;
  }
  if (r.uid) {
    // runAsUser decides; the image is irrelevant (verifyRunAsNonRoot too
    // looks at the image only when runAsUser is unset).
    if (non_root && !*non_root) {
      r.verdict = RunAs::Verdict::kNonRootFalse;
    } else {
      r.verdict = *r.uid >= min_uid ? RunAs::Verdict::kNonRoot : RunAs::Verdict::kUserBelowMin;
    }
    return r;
  }
  read_image_users(pod, c, min_uid, r);
  if (non_root && !*non_root) {
    r.verdict = RunAs::Verdict::kNonRootFalse;
    return r;
  }
  // Without image facts, runAsNonRoot: true passes: the kubelet refuses to
  // start the container if the image's user is 0 or a name.
  r.verdict = non_root ? RunAs::Verdict::kNonRoot : RunAs::Verdict::kUnknown;
  for (const RunAs::ImageUserVerdict& u : r.image_users) {
    if (u.verdict != RunAs::Verdict::kNonRoot) {
      r.verdict = u.verdict;
      return r;
    }
  }
  if (!r.image_users.empty()) r.verdict = RunAs::Verdict::kNonRoot;
  return r;
}

}  // namespace podguard::rules

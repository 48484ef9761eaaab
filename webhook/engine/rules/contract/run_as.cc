#include "engine/rules/contract/run_as.h"

#include "engine/reading/json_access.h"

namespace podguard::rules {

RunAs evaluate_run_as(const PodView& pod, const ContainerView& c, std::int64_t min_uid) {
  RunAs r;
  r.user = pod.effective(c, {"runAsUser"});
  r.non_root = pod.effective(c, {"runAsNonRoot"});
  r.uid = json::as_int(r.user.value);
  const std::optional<bool> non_root = json::as_bool(r.non_root.value);
  if (r.uid && *r.uid == 0) {
    r.verdict = RunAs::Verdict::kUserZero;
  } else if (non_root && !*non_root) {
    r.verdict = RunAs::Verdict::kNonRootFalse;
  } else if (r.uid) {
    r.verdict = *r.uid >= min_uid ? RunAs::Verdict::kNonRoot : RunAs::Verdict::kUserBelowMin;
  } else if (non_root) {
    r.verdict = RunAs::Verdict::kNonRoot;  // the kubelet refuses to start the container if the image's user is 0
  }
  return r;
}

}  // namespace podguard::rules

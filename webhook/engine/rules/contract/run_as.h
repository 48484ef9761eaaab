// Who a container runs as, from its effective runAsUser and runAsNonRoot.
// Shared by run-as-non-root (which denies root) and privileged-port (which
// only cares about containers that are known not to be root).
//
// Pure functions of a PodView; safe from any number of threads.
#pragma once

#include <cstdint>
#include <optional>

#include "engine/facts/workload.h"

namespace podguard::rules {

struct RunAs {
  enum class Verdict {
    kNonRoot,       // runAsUser >= min UID, or runAsNonRoot true with runAsUser unset
    kUserZero,      // effective runAsUser is 0
    kNonRootFalse,  // effective runAsNonRoot is explicitly false
    kUserBelowMin,  // runAsUser set but below the minimum UID
    kUnknown,       // neither is set: the image's USER decides
  };
  Verdict verdict = Verdict::kUnknown;
  Effective user;      // runAsUser and where it came from
  Effective non_root;  // runAsNonRoot and where it came from
  std::optional<std::int64_t> uid;
};

RunAs evaluate_run_as(const PodView& pod, const ContainerView& c, std::int64_t min_uid);

}  // namespace podguard::rules

// Who a container runs as, from its effective runAsUser and runAsNonRoot
// and, when image lookups answered for its image, the image's USER read the
// way the kubelet reads it. Shared by run-as-non-root (which denies root)
// and privileged-port (which only cares about containers that are known not
// to be root).
//
// Pure functions of a PodView and the image facts it carries; safe from any
// number of threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/facts/image_facts.h"
#include "engine/facts/workload.h"

namespace podguard::rules {

// The user an image's config.User makes the kubelet see: the CRI runtime's
// getUserFromImage (containerd internal/cri/server/images/image_status.go,
// CRI-O server/image_status.go) followed by the kubelet's getImageUser
// (pkg/kubelet/kuberuntime/helpers.go). Exactly one of uid and name is set.
struct ImageUser {
  // The part of USER before the first ':' when Go's strconv.ParseInt(s, 10,
  // 64) reads it (an optional '+' or '-', then decimal digits, within
  // int64; no spaces); 0 when USER is empty or names no user (":1001").
  std::optional<std::int64_t> uid;
  std::string_view name;  // that part when it is not such a number ("app", " 1001", "99999999999999999999")
};

ImageUser read_image_user(std::string_view user);

// The UIDs Kubernetes accepts (k8s.io/apimachinery validation.IsValidUserID,
// which the kubelet's verifyRunAsNonRoot applies to the image's UID).
inline constexpr std::int64_t kMaxUid = 2147483647;

struct RunAs {
  enum class Verdict {
    kNonRoot,       // runAsUser >= min UID; runAsNonRoot true with runAsUser unset (no image facts); or the image's USER a UID >= min
    kUserZero,      // effective runAsUser is 0
    kNonRootFalse,  // effective runAsNonRoot is explicitly false
    kUserBelowMin,  // runAsUser set but below the minimum UID
    kUnknown,       // neither is set and the image is not known: the image's USER decides
    // runAsUser unset and runAsNonRoot not false; the image's USER (of one
    // of the platform images judged) decides, and it is
    kImageRoot,        // empty, names no user, or UID 0
    kImageBelowMin,    // a UID from 1 to below the minimum
    kImageInvalidUid,  // a number outside 0..kMaxUid
    kImageName,        // a user name, which the kubelet cannot check
  };

  // What one USER value of the container's image means. Platform images
  // with the same USER share one entry.
  struct ImageUserVerdict {
    std::string_view user;  // config.User as written
    ImageUser read;
    Verdict verdict = Verdict::kNonRoot;  // kNonRoot or one of the kImage* verdicts
    std::vector<const PlatformImage*> platforms;
  };

  Verdict verdict = Verdict::kUnknown;
  Effective user;      // runAsUser and where it came from
  Effective non_root;  // runAsNonRoot and where it came from
  std::optional<std::int64_t> uid;
  // When runAsUser is unset and lookups found the container's image: each
  // distinct USER of the platform images judged (Windows images left out),
  // in the order first seen; empty otherwise. Filled even when runAsNonRoot
  // is false (privileged-port reads it; run-as-non-root fails that anyway).
  std::vector<ImageUserVerdict> image_users;
  std::string_view image;  // the container's image, when image_users is filled

  // runAsUser unset and every image USER judged is a UID of at least 1.
  [[nodiscard]] bool image_known_non_root() const;
};

// Windows pods (spec.os.name windows) are judged by the spec alone, as
// before image lookups: the kubelet checks them against
// windowsOptions.runAsUserName and ContainerAdministrator instead.
RunAs evaluate_run_as(const PodView& pod, const ContainerView& c, std::int64_t min_uid);

}  // namespace podguard::rules

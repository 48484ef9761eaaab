// Finding the pod spec inside each workload kind, and a view of it that
// rules read: containers of every list, and securityContext fields resolved
// the way the kubelet resolves them (the container's value overrides the
// pod's; unset falls back to the pod).
//
// A PodView borrows the object it was made from; it is cheap to build and
// must not outlive that object.
//
// Building a PodView reads the object and changes nothing; views of one
// object may be made and read from many threads at once.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/reading/document.h"

namespace podguard {

class KnownImages;    // engine/facts/image_facts.h
struct ImageAnswer;

enum class ContainerKind { kInit, kRegular, kEphemeral };

struct ContainerView {
  const Json* spec = nullptr;  // the container object
  std::string_view name;
  ContainerKind kind = ContainerKind::kRegular;
  std::size_t index = 0;  // position in its list
  bool sidecar = false;   // an init container with restartPolicy: Always
  std::string_view image;  // the image field as written; empty when absent or not a string
  // What image lookups answered for `image` (PodView::set_images); nullptr
  // when it was not looked up.
  const ImageAnswer* image_answer = nullptr;
};

// Where an effective securityContext value came from.
enum class Origin { kUnset, kContainer, kPod };

struct Effective {
  const Json* value = nullptr;  // nullptr when unset at both levels
  Origin origin = Origin::kUnset;
};

class PodView {
 public:
  PodView(const Json& object, std::string_view kind, const Json* spec, FieldPath spec_path,
          const Json* metadata, FieldPath metadata_path, bool long_running);

  const Json& object() const { return *object_; }
  std::string_view kind() const { return kind_; }
  // The pod spec; an empty object when the workload has none.
  const Json& spec() const { return *spec_; }
  const FieldPath& spec_path() const { return spec_path_; }
  // Pod (or pod template) metadata; nullptr when absent.
  const Json* metadata() const { return metadata_; }
  const FieldPath& metadata_path() const { return metadata_path_; }
  // Deployments and other controllers that keep pods running, and Pods that
  // restart Always; false for Jobs, CronJobs and their pods.
  bool long_running() const { return long_running_; }
  // spec.os.name is windows.
  bool is_windows() const;

  // initContainers, then containers, then ephemeralContainers.
  const std::vector<ContainerView>& containers() const { return containers_; }

  // spec.containers[2], spec.initContainers[0], ...
  FieldPath container_path(const ContainerView& c) const;

  // securityContext.<keys...> for the container, falling back to the pod's
  // securityContext.<keys...>. Ephemeral containers inherit like the others.
  Effective effective(const ContainerView& c, std::initializer_list<std::string_view> keys) const;
  // Path of securityContext.<keys...> at the level `origin` names (for
  // kUnset: the container's, where the user should set it).
  FieldPath effective_path(const ContainerView& c, Origin origin,
                           std::initializer_list<std::string_view> keys) const;

  const Json* pod_security_context() const;

  // Sets each container's image_answer: what image lookups answered for
  // its `image` exactly as written (nullptr `images`: no lookups were made,
  // and the rules judge the spec alone). Not owned.
  void set_images(const KnownImages* images);

 private:
  const Json* object_;
  std::string_view kind_;
  const Json* spec_;
  FieldPath spec_path_;
  const Json* metadata_;
  FieldPath metadata_path_;
  bool long_running_;
  std::vector<ContainerView> containers_;
};

// The pod spec of a Pod, PodTemplate, ReplicationController, Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Job or CronJob (checking the API
// group, so a CRD that happens to be called Job is not mistaken for one).
// nullopt for every other kind.
std::optional<PodView> find_pod(const Json& object);

// The images the containers of the object's pod spec name (init, regular,
// ephemeral), each once, in container order; empty and absent images left
// out; empty for an object find_pod finds no pod in. What image lookups
// are asked for. Builds no PodView: it runs before every review with
// lookups on.
std::vector<std::string_view> workload_images(const Json& object);

// True for List and *List objects with an items array.
bool is_list(const Json& object);

// The objects a document holds, in order: the document itself, or the
// items of a List (Lists in Lists to 8 levels), each with its path from
// `root` (items[2].items[0]). What is judged of a document.
void for_each_object(const Json& document, const FieldPath& root,
                     const std::function<void(const Json& object, const FieldPath& path)>& visit);

}  // namespace podguard

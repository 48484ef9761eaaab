#include "engine/facts/workload.h"

#include <algorithm>
#include <array>

#include "engine/facts/image_facts.h"
#include "engine/reading/json_access.h"

namespace podguard {
namespace {

const Json& empty_object() {
  static const Json kEmpty = Json::object();
  return kEmpty;
}

struct WorkloadShape {
  std::string_view kind;
  std::string_view group;  // "" is the core group
  // Keys from the object root to the pod template ({} for a Pod itself).
  std::initializer_list<std::string_view> template_keys;
  bool long_running;
};

constexpr std::string_view kCore;

const std::array<WorkloadShape, 9>& shapes() {
  static const std::array<WorkloadShape, 9> kShapes = {{
      {"Pod", kCore, {}, true},  // refined by restartPolicy below
      {"PodTemplate", kCore, {"template"}, true},
      {"ReplicationController", kCore, {"spec", "template"}, true},
      {"Deployment", "apps", {"spec", "template"}, true},
      {"StatefulSet", "apps", {"spec", "template"}, true},
      {"DaemonSet", "apps", {"spec", "template"}, true},
      {"ReplicaSet", "apps", {"spec", "template"}, true},
      {"Job", "batch", {"spec", "template"}, false},
      {"CronJob", "batch", {"spec", "jobTemplate", "spec", "template"}, false},
  }};
  return kShapes;
}

// "apps/v1" -> "apps"; "v1" -> "". Deployments once lived in extensions.
bool group_matches(std::string_view api_version, std::string_view group) {
  if (api_version.empty()) return true;  // be lenient: kind alone decides
  const auto slash = api_version.find('/');
  const std::string_view actual = slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
  if (actual == group) return true;
  return group == "apps" && actual == "extensions";
}

// The pod spec's container lists, in the order containers() gives them.
struct ContainerList {
  std::string_view key;
  ContainerKind kind;
};
constexpr std::array<ContainerList, 3> kContainerLists = {{{"initContainers", ContainerKind::kInit},
                                                           {"containers", ContainerKind::kRegular},
                                                           {"ephemeralContainers", ContainerKind::kEphemeral}}};

bool owned_by_job(const Json* metadata) {
  for (const Json& ref : json::items(json::field(metadata, "ownerReferences"))) {
    if (json::as_string(json::field(&ref, "kind")) == "Job") return true;
  }
  return false;
}

}  // namespace

PodView::PodView(const Json& object, std::string_view kind, const Json* spec, FieldPath spec_path,
                 const Json* metadata, FieldPath metadata_path, bool long_running)
    : object_(&object),
      kind_(kind),
      spec_(spec != nullptr && spec->is_object() ? spec : &empty_object()),
      spec_path_(std::move(spec_path)),
      metadata_(metadata != nullptr && metadata->is_object() ? metadata : nullptr),
      metadata_path_(std::move(metadata_path)),
      long_running_(long_running) {
  for (const ContainerList& list : kContainerLists) {
    const auto& entries = json::items(json::field(spec_, list.key));
    for (std::size_t i = 0; i < entries.size(); ++i) {
      if (!entries[i].is_object()) continue;
      ContainerView c;
      c.spec = &entries[i];
      c.name = json::as_string(json::field(c.spec, "name"));
      c.kind = list.kind;
      c.index = i;
      c.sidecar = list.kind == ContainerKind::kInit &&
                  json::as_string(json::field(c.spec, "restartPolicy")) == "Always";
      c.image = json::as_string(json::field(c.spec, "image"));
      containers_.push_back(c);
    }
  }
}

bool PodView::is_windows() const { return json::as_string(json::field(spec_, {"os", "name"})) == "windows"; }

FieldPath PodView::container_path(const ContainerView& c) const {
  std::string_view list;
  for (const ContainerList& l : kContainerLists) {
    if (l.kind == c.kind) list = l.key;
  }
  return spec_path_.key(list).index(c.index);
}

void PodView::set_images(const KnownImages* images) {
  for (ContainerView& c : containers_) {
    c.image_answer = images != nullptr && !c.image.empty() ? images->find(c.image) : nullptr;
  }
}

const Json* PodView::pod_security_context() const { return json::field(spec_, "securityContext"); }

Effective PodView::effective(const ContainerView& c, std::initializer_list<std::string_view> keys) const {
  const Json* v = json::field(json::field(c.spec, "securityContext"), keys);
  if (v != nullptr && !v->is_null()) return {v, Origin::kContainer};
  v = json::field(pod_security_context(), keys);
  if (v != nullptr && !v->is_null()) return {v, Origin::kPod};
  return {};
}

FieldPath PodView::effective_path(const ContainerView& c, Origin origin,
                                  std::initializer_list<std::string_view> keys) const {
  FieldPath p = origin == Origin::kPod ? spec_path_.key("securityContext")
                                       : container_path(c).key("securityContext");
  for (std::string_view k : keys) p.push_key(k);
  return p;
}

namespace {

// The shape of the workload `object` is (nullptr for every other kind).
const WorkloadShape* workload_shape(const Json& object) {
  if (!object.is_object()) return nullptr;
  const std::string_view kind = json::as_string(json::field(&object, "kind"));
  const std::string_view api_version = json::as_string(json::field(&object, "apiVersion"));
  for (const WorkloadShape& shape : shapes()) {
    if (shape.kind == kind && group_matches(api_version, shape.group)) return &shape;
  }
  return nullptr;
}

// The pod template (the object itself for a Pod); nullptr when absent.
const Json* pod_template(const Json& object, const WorkloadShape& shape) {
  const Json* tmpl = &object;
  for (std::string_view k : shape.template_keys) tmpl = json::field(tmpl, k);
  return tmpl;
}

}  // namespace

std::optional<PodView> find_pod(const Json& object) {
  if (const WorkloadShape* shape = workload_shape(object)) {
    const std::string_view kind = shape->kind;
    const Json* tmpl = pod_template(object, *shape);
    FieldPath tmpl_path;
    for (std::string_view k : shape->template_keys) tmpl_path.push_key(k);
    const Json* metadata = json::field(tmpl, "metadata");
    const Json* spec = json::field(tmpl, "spec");
    bool long_running = shape->long_running;
    if (kind == "Pod") {
      const std::string_view restart = json::as_string(json::field(spec, "restartPolicy"));
      long_running = (restart.empty() || restart == "Always") && !owned_by_job(metadata);
    }
    return PodView(object, kind, spec, tmpl_path.key("spec"), metadata, tmpl_path.key("metadata"), long_running);
  }
  return std::nullopt;
}

std::vector<std::string_view> workload_images(const Json& object) {
  std::vector<std::string_view> out;
  const WorkloadShape* shape = workload_shape(object);
  if (shape == nullptr) return out;
  const Json* spec = json::field(pod_template(object, *shape), "spec");
  if (spec == nullptr || !spec->is_object()) return out;
  for (const ContainerList& list : kContainerLists) {
    for (const Json& c : json::items(json::field(spec, list.key))) {
      if (!c.is_object()) continue;
      const std::string_view image = json::as_string(json::field(&c, "image"));
      if (!image.empty() && std::find(out.begin(), out.end(), image) == out.end()) out.push_back(image);
    }
  }
  return out;
}

namespace {

void visit_objects(const Json& node, const FieldPath& path, int depth,
                   const std::function<void(const Json&, const FieldPath&)>& visit) {
  if (depth < 8 && is_list(node)) {
    const Json& items = node["items"];
    for (std::size_t i = 0; i < items.size(); ++i) visit_objects(items[i], path.key("items").index(i), depth + 1, visit);
    return;
  }
  visit(node, path);
}

}  // namespace

void for_each_object(const Json& document, const FieldPath& root,
                     const std::function<void(const Json& object, const FieldPath& path)>& visit) {
  visit_objects(document, root, 0, visit);
}

bool is_list(const Json& object) {
  if (!object.is_object()) return false;
  const std::string_view kind = json::as_string(json::field(&object, "kind"));
  if (kind.size() < 4 || kind.substr(kind.size() - 4) != "List") return false;
  const Json* items = json::field(&object, "items");
  return items != nullptr && items->is_array();
}

}  // namespace podguard

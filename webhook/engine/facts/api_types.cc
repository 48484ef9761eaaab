#include "engine/facts/api_types.h"

#include <cstdint>
#include <limits>
#include <string_view>

namespace podguard {
namespace {

enum class ApiType : std::uint8_t {
  kBool,
  kInt32,
  kInt64,
  kString,
  kIntOrString,  // a port: a number, or the name of one
  kQuantity,     // resource quantities: "500m", "1Gi", or a number
  kObject,       // `fields` are its members
  kList,         // `item` is the items' type; `fields` for lists of objects
  kMap,          // string keys; `item` is the values' type
};

struct ApiField {
  std::string_view name;
  ApiType type;
  ApiType item = ApiType::kString;
  const std::vector<ApiField>* fields = nullptr;
};

using Fields = std::vector<ApiField>;

ApiField object(std::string_view name, const Fields& fields) { return {name, ApiType::kObject, ApiType::kObject, &fields}; }
ApiField objects(std::string_view name, const Fields& fields) { return {name, ApiType::kList, ApiType::kObject, &fields}; }
ApiField list(std::string_view name, ApiType item) { return {name, ApiType::kList, item, nullptr}; }
ApiField map(std::string_view name, ApiType item) { return {name, ApiType::kMap, item, nullptr}; }

constexpr ApiType kBool = ApiType::kBool;
constexpr ApiType kInt32 = ApiType::kInt32;
constexpr ApiType kInt64 = ApiType::kInt64;
constexpr ApiType kString = ApiType::kString;
constexpr ApiType kIntOrString = ApiType::kIntOrString;
constexpr ApiType kQuantity = ApiType::kQuantity;

// The schemas, built once (function-local statics: thread-safe, and in an
// order where each refers only to schemas already made).
struct Schemas {
  Fields se_linux{{"user", kString}, {"role", kString}, {"type", kString}, {"level", kString}};
  Fields profile{{"type", kString}, {"localhostProfile", kString}};  // seccomp and AppArmor
  Fields windows{{"gmsaCredentialSpecName", kString},
                 {"gmsaCredentialSpec", kString},
                 {"runAsUserName", kString},
                 {"hostProcess", kBool}};
  Fields capabilities{list("add", kString), list("drop", kString)};
  Fields container_security{{"privileged", kBool},
                            {"runAsUser", kInt64},
                            {"runAsGroup", kInt64},
                            {"runAsNonRoot", kBool},
                            {"readOnlyRootFilesystem", kBool},
                            {"allowPrivilegeEscalation", kBool},
                            {"procMount", kString},
                            object("capabilities", capabilities),
                            object("seLinuxOptions", se_linux),
                            object("seccompProfile", profile),
                            object("appArmorProfile", profile),
                            object("windowsOptions", windows)};
  Fields sysctl{{"name", kString}, {"value", kString}};
  Fields pod_security{{"runAsUser", kInt64},
                      {"runAsGroup", kInt64},
                      {"runAsNonRoot", kBool},
                      {"fsGroup", kInt64},
                      list("supplementalGroups", kInt64),
                      {"fsGroupChangePolicy", kString},
                      {"supplementalGroupsPolicy", kString},
                      {"seLinuxChangePolicy", kString},
                      objects("sysctls", sysctl),
                      object("seLinuxOptions", se_linux),
                      object("seccompProfile", profile),
                      object("appArmorProfile", profile),
                      object("windowsOptions", windows)};
  Fields exec{list("command", kString)};
  Fields header{{"name", kString}, {"value", kString}};
  Fields http_get{{"path", kString},
                  {"port", kIntOrString},
                  {"host", kString},
                  {"scheme", kString},
                  objects("httpHeaders", header)};
  Fields tcp_socket{{"port", kIntOrString}, {"host", kString}};
  Fields grpc{{"port", kInt32}, {"service", kString}};
  Fields probe{object("exec", exec),
               object("httpGet", http_get),
               object("tcpSocket", tcp_socket),
               object("grpc", grpc),
               {"initialDelaySeconds", kInt32},
               {"timeoutSeconds", kInt32},
               {"periodSeconds", kInt32},
               {"successThreshold", kInt32},
               {"failureThreshold", kInt32},
               {"terminationGracePeriodSeconds", kInt64}};
  Fields sleep{{"seconds", kInt64}};
  Fields handler{object("exec", exec), object("httpGet", http_get), object("tcpSocket", tcp_socket),
                 object("sleep", sleep)};
  Fields lifecycle{object("postStart", handler), object("preStop", handler), {"stopSignal", kString}};
  Fields port{{"name", kString}, {"containerPort", kInt32}, {"hostPort", kInt32}, {"protocol", kString},
              {"hostIP", kString}};
  Fields key_ref{{"name", kString}, {"key", kString}, {"optional", kBool}};
  Fields env_source{object("secretKeyRef", key_ref), object("configMapKeyRef", key_ref)};
  Fields env{{"name", kString}, {"value", kString}, object("valueFrom", env_source)};
  Fields resources{map("limits", kQuantity), map("requests", kQuantity)};
  Fields mount{{"name", kString}, {"mountPath", kString}, {"subPath", kString}, {"readOnly", kBool},
               {"mountPropagation", kString}, {"recursiveReadOnly", kString}, {"subPathExpr", kString}};
  Fields container{{"name", kString},
                   {"image", kString},
                   {"imagePullPolicy", kString},
                   list("command", kString),
                   list("args", kString),
                   {"workingDir", kString},
                   {"restartPolicy", kString},
                   objects("ports", port),
                   objects("env", env),
                   object("resources", resources),
                   objects("volumeMounts", mount),
                   object("livenessProbe", probe),
                   object("readinessProbe", probe),
                   object("startupProbe", probe),
                   object("lifecycle", lifecycle),
                   object("securityContext", container_security),
                   {"terminationMessagePath", kString},
                   {"terminationMessagePolicy", kString},
                   {"stdin", kBool},
                   {"stdinOnce", kBool},
                   {"tty", kBool}};
  Fields host_path{{"path", kString}, {"type", kString}};
  Fields volume{{"name", kString}, object("hostPath", host_path)};
  Fields os{{"name", kString}};
  Fields pod_spec{objects("containers", container),
                  objects("initContainers", container),
                  objects("ephemeralContainers", container),
                  objects("volumes", volume),
                  object("securityContext", pod_security),
                  object("os", os),
                  {"terminationGracePeriodSeconds", kInt64},
                  {"activeDeadlineSeconds", kInt64},
                  {"hostNetwork", kBool},
                  {"hostPID", kBool},
                  {"hostIPC", kBool},
                  {"hostUsers", kBool},
                  {"shareProcessNamespace", kBool},
                  {"automountServiceAccountToken", kBool},
                  {"enableServiceLinks", kBool},
                  {"setHostnameAsFQDN", kBool},
                  {"priority", kInt32},
                  {"restartPolicy", kString},
                  {"serviceAccountName", kString},
                  {"serviceAccount", kString},
                  {"nodeName", kString},
                  {"hostname", kString},
                  {"subdomain", kString},
                  {"schedulerName", kString},
                  {"priorityClassName", kString},
                  {"runtimeClassName", kString},
                  {"dnsPolicy", kString},
                  {"preemptionPolicy", kString},
                  map("nodeSelector", kString)};
  Fields metadata{{"name", kString}, {"generateName", kString}, {"namespace", kString},
                  map("labels", kString), map("annotations", kString)};
};

const Schemas& schemas() {
  static const Schemas kSchemas;
  return kSchemas;
}

std::string_view describe_type(ApiType t) {
  switch (t) {
    case ApiType::kBool:
      return "a boolean (true or false)";
    case ApiType::kInt32:
    case ApiType::kInt64:
      return "an integer";
    case ApiType::kString:
      return "a string";
    case ApiType::kIntOrString:
      return "a port number or name";
    case ApiType::kQuantity:
      return "a quantity such as 500m or 1Gi";
    case ApiType::kObject:
      return "a map";
    case ApiType::kList:
      return "a list";
    case ApiType::kMap:
      return "a map";
  }
  return "a value";
}

std::string describe_value(const Json& v) {
  if (v.is_string()) {
    std::string_view s = v.get_ref<const Json::string_t&>();
    std::string out = "the string \"";
    out.append(s.substr(0, 40));
    if (s.size() > 40) out.append("...");
    out.push_back('"');
    return out;
  }
  if (v.is_boolean()) return std::string("the boolean ") + (v.get<bool>() ? "true" : "false");
  if (v.is_number()) return "the number " + std::string(v.dump());
  if (v.is_object()) return "a map";
  if (v.is_array()) return "a list";
  return "null";
}

// What to write instead, when the fix is mechanical.
std::string hint(ApiType t, const Json& v) {
  if (v.is_string() && (t == ApiType::kBool || t == ApiType::kInt32 || t == ApiType::kInt64)) {
    return "; write it without quotes";
  }
  if (t == ApiType::kString && (v.is_number() || v.is_boolean())) {
    return "; quote it: \"" + std::string(v.dump()) + "\"";
  }
  return {};
}

// Where the checker is, as a chain of stack frames: a FieldPath is built
// only for a field that fails, so checking a valid object allocates nothing.
struct Where {
  const Where* parent = nullptr;
  const FieldPath* base = nullptr;  // the root frame: where the checked value sits
  std::string_view key;
  std::size_t index = 0;
  bool is_index = false;

  FieldPath path() const {
    if (base != nullptr) return *base;
    FieldPath p = parent->path();
    return is_index ? p.push_index(index) : p.push_key(key);
  }
};

class TypeChecker {
 public:
  TypeChecker(std::string_view kind, std::vector<FieldTypeError>& out) : kind_(kind), out_(out) {}

  // Objects have a handful of members and schemas a few dozen fields: each
  // member is looked up by length first, then by bytes.
  void members(const Json& value, const Fields& fields, const Where& at) {
    if (!value.is_object()) return;  // reported by the caller
    for (const auto& [key, member] : value.get_ref<const Json::object_t&>()) {
      const std::string_view name(key);
      for (const ApiField& f : fields) {
        if (f.name.size() != name.size() || f.name != name) continue;
        if (!member.is_null()) field(member, f.type, f.item, f.fields, Where{&at, nullptr, name});
        break;
      }
    }
  }

  void field(const Json& v, ApiType type, ApiType item, const Fields* fields, const Where& at) {
    if (v.is_null()) return;  // decoded as the zero value
    switch (type) {
      case ApiType::kBool:
        if (!v.is_boolean()) fail(at, type, v);
        return;
      case ApiType::kInt32:
      case ApiType::kInt64:
        integer(v, type, at);
        return;
      case ApiType::kString:
        if (!v.is_string()) fail(at, type, v);
        return;
      case ApiType::kIntOrString:
        if (v.is_string()) return;
        integer(v, ApiType::kInt32, at, type);
        return;
      case ApiType::kQuantity:
        if (!v.is_string() && !v.is_number()) fail(at, type, v);
        return;
      case ApiType::kObject:
        if (!v.is_object()) return fail(at, type, v);
        members(v, *fields, at);
        return;
      case ApiType::kList:
        if (!v.is_array()) return fail(at, type, v);
        for (std::size_t i = 0; i < v.size(); ++i) field(v[i], item, item, fields, Where{&at, nullptr, {}, i, true});
        return;
      case ApiType::kMap:
        if (!v.is_object()) return fail(at, type, v);
        for (const auto& [key, value] : v.get_ref<const Json::object_t&>()) {
          field(value, item, item, nullptr, Where{&at, nullptr, std::string_view(key)});
        }
        return;
    }
  }

 private:
  void integer(const Json& v, ApiType type, const Where& at, ApiType shown = ApiType::kInt64) {
    const ApiType reported = shown == ApiType::kIntOrString ? shown : type;
    if (!v.is_number_integer()) return fail(at, reported, v);
    if (type != ApiType::kInt32) {
      if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        fail(at, reported, v, " (it does not fit in 64 bits)");
      }
      return;
    }
    const bool fits = v.is_number_unsigned() ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(INT32_MAX)
                                             : v.get<std::int64_t>() >= INT32_MIN && v.get<std::int64_t>() <= INT32_MAX;
    if (!fits) fail(at, reported, v, " (it does not fit in 32 bits)");
  }

  void fail(const Where& at, ApiType type, const Json& v, std::string_view detail = {}) {
    std::string message = "expected " + std::string(describe_type(type)) + ", got " + describe_value(v) +
                          std::string(detail) + ": the API server rejects this " + std::string(kind_) +
                          hint(type, v);
    FieldPath path = at.path();
    std::string key = path.str();
    out_.push_back(FieldTypeError{std::move(path), Status::invalid_input(std::move(message)).with_key(key)});
  }

  std::string_view kind_;
  std::vector<FieldTypeError>& out_;
};

}  // namespace

std::vector<FieldTypeError> check_api_types(const Json& object, const PodView& pod) {
  std::vector<FieldTypeError> out;
  const Schemas& s = schemas();
  const std::string_view kind = pod.kind().empty() ? std::string_view("object") : pod.kind();
  TypeChecker check(kind, out);
  const FieldPath metadata_path = FieldPath().key("metadata");
  const Json* own = nullptr;
  if (const auto it = object.find("metadata"); it != object.end()) {
    own = &*it;
    check.field(*it, ApiType::kObject, ApiType::kObject, &s.metadata, Where{nullptr, &metadata_path});
  }
  if (pod.metadata() != nullptr && pod.metadata() != own) {
    check.field(*pod.metadata(), ApiType::kObject, ApiType::kObject, &s.metadata,
                Where{nullptr, &pod.metadata_path()});
  }
  check.members(pod.spec(), s.pod_spec, Where{nullptr, &pod.spec_path()});
  return out;
}

}  // namespace podguard

#include "engine/admission/admission.h"

#include <map>
#include <optional>
#include <set>

#include "engine/facts/workload.h"
#include "engine/reading/json_access.h"
#include "engine/reading/manifest_reader.h"

namespace podguard {

std::string_view to_string(Decision d) {
  switch (d) {
    case Decision::kAllowed:
      return "allowed";
    case Decision::kDenied:
      return "denied";
    case Decision::kUntouched:
      return "untouched";
  }
  return "untouched";
}

namespace {

constexpr std::size_t kMaxDenyMessage = 16 * 1024;
constexpr std::size_t kMaxAuditValue = 2048;

// Cuts s to at most `limit` bytes without splitting a UTF-8 character,
// ending in "..." when it had to cut.
std::string cut(std::string s, std::size_t limit) {
  if (s.size() <= limit) return s;
  std::size_t end = limit >= 3 ? limit - 3 : 0;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  s += "...";
  return s;
}

// What identifies an item of a list across an update, as Kubernetes
// identifies it (the API's list-map keys) rather than by position: a
// container, env variable, volume or pull secret by name, a port by name (or
// number and protocol when it has none), a volume mount by mountPath (one
// volume may be mounted twice), a device by devicePath. Empty for lists
// whose items have no identity, which are matched by position.
std::string item_identity(std::string_view list, const Json& item) {
  const auto member = [&item](std::string_view k) { return json::as_string(json::field(&item, k)); };
  if (list == "containers" || list == "initContainers" || list == "ephemeralContainers" || list == "env" ||
      list == "volumes" || list == "imagePullSecrets") {
    const std::string_view name = member("name");
    return name.empty() ? std::string() : "name=" + std::string(name);
  }
  if (list == "ports") {
    if (const std::string_view name = member("name"); !name.empty()) return "name=" + std::string(name);
    const Json* port = json::field(&item, "containerPort");
    if (port == nullptr || !port->is_number_integer()) return {};
    const std::string_view protocol = member("protocol");
    return "port=" + std::to_string(port->get<std::int64_t>()) + "/" +
           std::string(protocol.empty() ? std::string_view("TCP") : protocol);
  }
  if (list == "volumeMounts" || list == "volumeDevices") {
    const std::string_view path = member(list == "volumeMounts" ? "mountPath" : "devicePath");
    return path.empty() ? std::string() : "path=" + std::string(path);
  }
  return {};
}

// A violation's identity across an update: the rule and the field, with the
// index of every keyed list item replaced by its identity in `object` (the
// object the violation was found in), so that reordering containers or
// adding an env variable in front of another changes no identity.
std::string ratchet_key(const Violation& v, const Json& object) {
  std::string key = v.rule + "|";
  const Json* node = &object;
  std::string_view list;  // the key whose value `node` is
  for (const FieldPath::Segment& s : v.path.segments()) {
    if (!s.is_index) {
      key += "." + s.key;
      node = json::field(node, s.key);
      list = s.key;
      continue;
    }
    const Json* item = node != nullptr && node->is_array() && s.index < node->size() ? &(*node)[s.index] : nullptr;
    const std::string id = item != nullptr ? item_identity(list, *item) : std::string();
    key += "[" + (id.empty() ? std::to_string(s.index) : id) + "]";
    node = item;
    list = {};
  }
  return key;
}

// Violations per rule, kept or omitted, and the rules some of whose
// violations were omitted (beyond kMaxFindingsPerRule).
struct RuleCounts {
  std::map<std::string, std::size_t, std::less<>> totals;
  std::set<std::string, std::less<>> capped;

  explicit RuleCounts(const ObjectVerdict& verdict) {
    for (const Violation& v : verdict.violations) ++totals[v.rule];
    for (const OmittedFindings& m : verdict.omitted) {
      totals[m.rule] += m.violations;
      if (m.violations > 0) capped.insert(m.rule);
    }
  }
  std::size_t total(std::string_view rule) const {
    const auto it = totals.find(rule);
    return it == totals.end() ? 0 : it->second;
  }
};

// What an UPDATE's old object already broke. Ratcheting: a violation the old
// object already had does not deny, so that fixing one problem never
// requires fixing all of them.
struct RatchetBase {
  RatchetBase(const ObjectVerdict& old, const Json& old_object) : counts(old) {
    for (const Violation& v : old.violations) keys.insert(ratchet_key(v, old_object));
  }
  std::set<std::string> keys;  // ratchet_key of every kept violation
  RuleCounts counts;
};

// Ratchets the new object's violations against `before`. Where either side
// has more findings of a rule than the webhook keeps, the rule is judged by
// count (no more violations than before: all ratcheted), since the omitted
// findings have no keys to compare.
class Ratchet {
 public:
  Ratchet(const ObjectVerdict& now, const Json& object, const RatchetBase* before) : object_(object), before_(before) {
    if (before_ != nullptr) now_.emplace(now);  // CREATE needs no counts
  }
  bool covers(const Violation& v) const {
    if (before_ == nullptr) return false;
    if (by_count(v.rule)) return count_not_grown(v.rule);
    return before_->keys.count(ratchet_key(v, object_)) != 0;
  }
  bool covers_omitted(const OmittedFindings& m) const { return before_ != nullptr && count_not_grown(m.rule); }

 private:
  bool by_count(std::string_view rule) const {
    return now_->capped.count(rule) != 0 || before_->counts.capped.count(rule) != 0;
  }
  bool count_not_grown(std::string_view rule) const {
    const std::size_t then = before_->counts.total(rule);
    return then > 0 && now_->total(rule) <= then;
  }

  const Json& object_;
  const RatchetBase* before_;
  std::optional<RuleCounts> now_;
};

// The line that stands for a rule's findings beyond the ones listed.
std::string omitted_text(const OmittedFindings& m) {
  return "[" + m.rule + "] and " + std::to_string(m.violations) + " more " +
         (m.violations == 1 ? "finding" : "findings") + " of this rule (the webhook lists " +
         std::to_string(kMaxFindingsPerRule) + " per rule; podguard check on the manifest lists all)";
}

// The parts of a response that follow from a verdict: the deny message,
// warnings and audit annotations, in rule order, with each rule's omitted
// findings summed up after its listed ones.
struct Answer {
  std::vector<std::string> denies;
  std::set<std::string, std::less<>> deny_rules;
  std::size_t deny_findings = 0;
  std::vector<std::string> warnings;
  Json audit = Json::object();

  void add(Action action, bool ratcheted, std::string_view rule, std::string text, std::string audit_entry,
           std::size_t findings) {
    switch (action) {
      case Action::kDeny:
        if (ratcheted) {
          warnings.push_back("(already present, not denied on update) " + text);
        } else {
          denies.push_back(std::move(text));
          deny_rules.emplace(rule);
          deny_findings += findings;
        }
        break;
      case Action::kWarn:
        warnings.push_back(std::move(text));
        break;
      case Action::kAudit: {
        std::string value = audit.contains(rule) ? audit[rule].get<std::string>() + "; " + audit_entry : audit_entry;
        audit[rule] = cut(std::move(value), kMaxAuditValue);
        break;
      }
      case Action::kOff:
        break;
    }
  }
};

void answer(ObjectVerdict& verdict, const Json& object, const RatchetBase* before, AdmissionOutcome& o) {
  const Ratchet ratchet(verdict, object, before);
  Answer a;
  o.ratcheted.assign(verdict.violations.size(), false);
  const auto omitted_of = [&](std::string_view rule) -> const OmittedFindings* {
    for (const OmittedFindings& m : verdict.omitted) {
      if (m.rule == rule && m.violations > 0) return &m;
    }
    return nullptr;
  };
  for (std::size_t i = 0; i < verdict.violations.size(); ++i) {
    const Violation& v = verdict.violations[i];
    o.ratcheted[i] = v.action == Action::kDeny && ratchet.covers(v);
    std::string entry = (v.container ? "container \"" + *v.container + "\" " : "") + v.path.str() + ": " + v.message;
    a.add(v.action, o.ratcheted[i], v.rule, "[" + v.rule + "] " + entry, entry, 1);
    const bool last_of_rule = i + 1 == verdict.violations.size() || verdict.violations[i + 1].rule != v.rule;
    if (!last_of_rule) continue;
    if (const OmittedFindings* m = omitted_of(v.rule)) {
      const bool ratcheted = m->action == Action::kDeny && ratchet.covers_omitted(*m);
      o.omitted.push_back({*m, ratcheted});
      const std::string text = omitted_text(*m);
      a.add(m->action, ratcheted, m->rule, text, text.substr(m->rule.size() + 3), m->violations);
    }
  }
  for (const std::string& note : verdict.notes) a.warnings.push_back(note);
  if (!verdict.exempted.empty()) {
    std::set<std::pair<std::string, std::string>> seen;
    std::string value;
    for (const AppliedExemption& e : verdict.exempted) {
      if (!seen.emplace(e.rule, e.reason).second) continue;
      value += (value.empty() ? "" : "; ") + e.rule + " (" + e.source + "): " + e.reason;
    }
    a.audit["exempted"] = cut(std::move(value), kMaxAuditValue);
  }

  Json& response = o.response["response"];
  if (!a.denies.empty()) {
    const std::size_t rules = a.deny_rules.size();
    std::string message = verdict.display_name() + " breaks " + std::to_string(rules) +
                          (rules == 1 ? " rule" : " rules") + " of the container contract";
    if (a.deny_findings > rules) message += " (" + std::to_string(a.deny_findings) + " findings)";
    message += ':';
    for (const std::string& d : a.denies) message += "\n- " + d;
    response["allowed"] = false;
    response["status"] = {
        {"status", "Failure"}, {"reason", "Forbidden"}, {"code", 403}, {"message", cut(message, kMaxDenyMessage)}};
    o.decision = Decision::kDenied;
  } else {
    o.decision = Decision::kAllowed;
  }
  if (!a.warnings.empty()) response["warnings"] = fit_warnings(a.warnings);
  if (!a.audit.empty()) response["auditAnnotations"] = std::move(a.audit);
  o.violations = std::move(verdict.violations);
  o.exempted = std::move(verdict.exempted);
}

AdmissionResult fail(std::string message) {
  AdmissionResult r;
  r.error = Status::invalid_input(std::move(message));
  return r;
}

Json response_envelope(const std::string& api_version, const std::string& uid) {
  Json review;
  review["apiVersion"] = api_version;
  review["kind"] = "AdmissionReview";
  review["response"]["uid"] = uid;
  review["response"]["allowed"] = true;
  return review;
}

}  // namespace

std::vector<std::string> fit_warnings(const std::vector<std::string>& warnings) {
  std::vector<std::string> out;
  std::size_t total = 0;
  for (std::size_t i = 0; i < warnings.size(); ++i) {
    std::string w = cut(warnings[i], kMaxWarningLength);
    const std::size_t left = warnings.size() - i - 1;
    // Keep room for the closing "N more" note unless this is the last one.
    const std::size_t reserve = left > 0 ? 64 : 0;
    if (total + w.size() + reserve > kMaxWarningsTotal) {
      out.push_back(std::to_string(warnings.size() - i) +
                    " more warnings not shown; run podguard check on the manifest to see all");
      return out;
    }
    total += w.size();
    out.push_back(std::move(w));
  }
  return out;
}

namespace {

// Checks the review's envelope (apiVersion, kind, request, uid, operation);
// the request.
Result<const Json*> review_request(const Json& review) {
  if (!review.is_object()) return Status::invalid_input("the body is not a JSON object");
  const std::string_view api_version = json::as_string(json::field(&review, "apiVersion"));
  if (api_version != "admission.k8s.io/v1" && api_version != "admission.k8s.io/v1beta1") {
    return Status::invalid_input("apiVersion must be admission.k8s.io/v1 (or v1beta1), got \"" +
                                 cut(std::string(api_version), 64) + "\"");
  }
  if (json::as_string(json::field(&review, "kind")) != "AdmissionReview") {
    return Status::invalid_input("kind must be AdmissionReview");
  }
  const Json* request = json::field(&review, "request");
  if (request == nullptr || !request->is_object()) return Status::invalid_input("request is missing");
  if (json::as_string(json::field(request, "uid")).empty()) return Status::invalid_input("request.uid is missing");
  const std::string_view operation = json::as_string(json::field(request, "operation"));
  if (operation != "CREATE" && operation != "UPDATE" && operation != "DELETE" && operation != "CONNECT") {
    return Status::invalid_input("request.operation must be CREATE, UPDATE, DELETE or CONNECT");
  }
  return request;
}

// Checks the review's envelope and starts the outcome: the request's
// fields and the response envelope.
Result<const Json*> start_outcome(const Json& review, AdmissionOutcome& o) {
  const Result<const Json*> request = review_request(review);
  if (!request.ok()) return request;
  o.uid = json::as_string(json::field(*request, "uid"));
  o.operation = json::as_string(json::field(*request, "operation"));
  o.kind = json::as_string(json::field(*request, {"kind", "kind"}));
  o.ns = json::as_string(json::field(*request, "namespace"));
  o.name = json::as_string(json::field(*request, "name"));
  o.sub_resource = json::as_string(json::field(*request, "subResource"));
  o.dry_run = json::is_true(json::field(*request, "dryRun"));
  o.response = response_envelope(std::string(json::as_string(json::field(&review, "apiVersion"))), o.uid);
  return request;
}

// Whether the rules judge a request: not DELETE, CONNECT or a subresource.
bool judged_operation(std::string_view operation, std::string_view sub_resource) {
  return operation != "DELETE" && operation != "CONNECT" && sub_resource.empty();
}
bool judged_operation(const AdmissionOutcome& o) { return judged_operation(o.operation, o.sub_resource); }

// The `images` audit annotation: what each image the object names by tag
// resolved to, so that the audit log records which image a pod was
// admitted with (the tag may move later): "ref@digest" (the reference as
// written, pinned to what it named then), or why it is not known. An image
// pinned by digest is left out: the object says it already.
void audit_images(const KnownImages& images, AdmissionOutcome& o) {
  // Each entry's text; written once, into a string sized for all of them
  // (this runs for every review when lookups are on).
  const auto entry = [](const std::string& image, const ImageAnswer& a, auto&& append) {
    append(image);
    switch (a.state) {
      case ImageAnswer::State::kFound:
        append("@");
        append(a.facts->digest);
        break;
      case ImageAnswer::State::kNotFound:
        append(" not found in ");
        append(a.registry);
        break;
      case ImageAnswer::State::kFailed:
        append(" not looked up (");
        append(a.registry);
        append(" failed)");
        break;
    }
  };
  // The answers are for the object's images (admission_images), in
  // container order: no need to walk the object again.
  const auto listed = [](const std::string& image, const ImageAnswer& a) {
    return a.state != ImageAnswer::State::kFound || image.find('@') == std::string::npos;
  };
  std::size_t size = 0;
  for (const auto& [image, answer] : images.entries()) {
    if (!listed(image, answer)) continue;
    size += 2;  // "; "
    entry(image, answer, [&size](std::string_view part) { size += part.size(); });
  }
  if (size == 0) return;
  std::string value;
  value.reserve(size);
  for (const auto& [image, answer] : images.entries()) {
    if (!listed(image, answer)) continue;
    if (!value.empty()) value += "; ";
    entry(image, answer, [&value](std::string_view part) { value += part; });
  }
  value = cut(std::move(value), kMaxAuditValue);
  Json& response = o.response["response"];
  const auto existing = response.find(std::string_view("auditAnnotations"));
  Json& annotations = existing != response.end() ? *existing : response["auditAnnotations"];
  annotations["images"] = JsonString(value.data(), value.size());
}

}  // namespace

std::vector<std::string_view> admission_images(const Policy& policy, const Json& review) {
  if (!policy.images.lookup) return {};
  // Only what review_admission checks before judging: no outcome is built,
  // no PodView.
  const Result<const Json*> request = review_request(review);
  if (!request.ok() || !judged_operation(json::as_string(json::field(*request, "operation")),
                                         json::as_string(json::field(*request, "subResource")))) {
    return {};
  }
  const Json* object = json::field(*request, "object");
  if (object == nullptr || !object->is_object()) return {};
  return workload_images(*object);
}

AdmissionResult review_admission(const Policy& policy, const Json& review, Day today, const KnownImages* images,
                                 const ImageJudgements* judged) {
  AdmissionOutcome o;
  const Result<const Json*> request = start_outcome(review, o);
  if (!request.ok()) return fail(request.error().message());
  AdmissionResult result;
  if (!judged_operation(o)) {
    result.outcome = std::move(o);
    return result;
  }
  const Json* object = json::field(*request, "object");
  if (object == nullptr || !object->is_object()) return fail("request.object is missing for " + o.operation);

  EvalOptions options;
  options.default_namespace = o.ns;
  options.today = today;
  options.max_findings_per_rule = kMaxFindingsPerRule;
  options.check_api_types = false;  // the API server decoded the object already
  options.images = images;
  options.judged_images = judged;
  ObjectVerdict verdict = evaluate_object(policy, *object, options);
  if (o.name.empty()) o.name = verdict.name;
  if (o.ns.empty()) o.ns = verdict.ns;
  if (!verdict.checked) {
    result.outcome = std::move(o);
    return result;
  }
  std::optional<RatchetBase> before;
  const Json* old_object = json::field(*request, "oldObject");
  if (o.operation == "UPDATE" && old_object != nullptr && old_object->is_object()) {
    before.emplace(evaluate_object(policy, *old_object, options), *old_object);
  }
  answer(verdict, *object, before ? &*before : nullptr, o);
  if (images != nullptr && !images->empty()) audit_images(*images, o);
  result.outcome = std::move(o);
  return result;
}

const std::vector<std::string>& unread_review_fields() {
  static const std::vector<std::string> kFields = {
      // The API server's record of which client set which field.
      "**.metadata.managedFields",
      // Who asked, the operation's options, and the kind and resource as
      // first requested: podguard judges the object as it is.
      "request.userInfo",
      "request.options",
      "request.requestKind",
      "request.requestResource",
      // On an UPDATE of a running pod, status is often the largest part.
      "request.object.status",
      "request.oldObject.status",
  };
  return kFields;
}

ReadResult read_admission_review(std::string_view body) {
  static const SkippedFields kSkipped = SkippedFields::compile(unread_review_fields()).value();
  // The same strict reader as `podguard check` (RFC 8259, valid UTF-8, no
  // duplicate keys), so both judge the same bytes the same way.
  ReadLimits limits;
  limits.record_positions = false;  // responses name fields by path, not by line
  limits.skip = &kSkipped;
  limits.use_arena = true;
  return read_documents(body, InputFormat::kJson, limits);
}

std::vector<std::string_view> admission_images(const Policy& policy, const ReadResult& read) {
  if (!policy.images.lookup || !read.error.ok() || read.documents.size() != 1) return {};
  return admission_images(policy, read.documents.front().value);
}

AdmissionResult review_admission_read(const Policy& policy, const ReadResult& read, Day today,
                                      const KnownImages* images, const ImageJudgements* judged) {
  if (!read.error.ok()) {
    return fail("the body is not valid JSON: " + read.error.message() + " (line " + std::to_string(read.error.pos().line) +
                ", column " + std::to_string(read.error.pos().column) + ")");
  }
  if (read.documents.size() != 1) {
    return fail(read.documents.empty() ? "the body is empty" : "the body holds more than one JSON value");
  }
  return review_admission(policy, read.documents.front().value, today, images, judged);
}

AdmissionResult review_admission_text(const Policy& policy, std::string_view body, Day today) {
  return review_admission_read(policy, read_admission_review(body), today);
}

}  // namespace podguard

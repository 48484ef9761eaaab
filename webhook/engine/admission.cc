#include "engine/admission.h"

#include <set>

#include "engine/json_access.h"
#include "engine/manifest_reader.h"

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

// A violation's identity across an update: the rule and the field, with a
// container's list index replaced by its name so reordering changes nothing.
std::string ratchet_key(const Violation& v) {
  std::string key = v.rule + "|";
  const auto& segments = v.path.segments();
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& s = segments[i];
    const bool container_index = s.is_index && i > 0 && v.container &&
                                 (segments[i - 1].key == "containers" || segments[i - 1].key == "initContainers" ||
                                  segments[i - 1].key == "ephemeralContainers");
    if (container_index) {
      key += "[" + *v.container + "]";
    } else if (s.is_index) {
      key += "[" + std::to_string(s.index) + "]";
    } else {
      key += "." + s.key;
    }
  }
  return key;
}

std::string describe_violation(const Violation& v) {
  std::string out = "[" + v.rule + "] ";
  if (v.container) out += "container \"" + *v.container + "\" ";
  out += v.path.str() + ": " + v.message;
  return out;
}

AdmissionResult fail(std::string message) {
  AdmissionResult r;
  r.error = AdmissionError{std::move(message)};
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

AdmissionResult review_admission(const Policy& policy, const Json& review, Day today) {
  if (!review.is_object()) return fail("the body is not a JSON object");
  const std::string_view api_version = json::as_string(json::field(&review, "apiVersion"));
  if (api_version != "admission.k8s.io/v1" && api_version != "admission.k8s.io/v1beta1") {
    return fail("apiVersion must be admission.k8s.io/v1 (or v1beta1), got \"" + cut(std::string(api_version), 64) + "\"");
  }
  if (json::as_string(json::field(&review, "kind")) != "AdmissionReview") {
    return fail("kind must be AdmissionReview");
  }
  const Json* request = json::field(&review, "request");
  if (request == nullptr || !request->is_object()) return fail("request is missing");
  const std::string_view uid = json::as_string(json::field(request, "uid"));
  if (uid.empty()) return fail("request.uid is missing");
  const std::string_view operation = json::as_string(json::field(request, "operation"));
  if (operation != "CREATE" && operation != "UPDATE" && operation != "DELETE" && operation != "CONNECT") {
    return fail("request.operation must be CREATE, UPDATE, DELETE or CONNECT");
  }

  AdmissionOutcome o;
  o.uid = uid;
  o.operation = operation;
  o.kind = json::as_string(json::field(request, {"kind", "kind"}));
  o.ns = json::as_string(json::field(request, "namespace"));
  o.name = json::as_string(json::field(request, "name"));
  o.sub_resource = json::as_string(json::field(request, "subResource"));
  o.dry_run = json::is_true(json::field(request, "dryRun"));
  o.response = response_envelope(std::string(api_version), o.uid);
  AdmissionResult result;

  if (operation == "DELETE" || operation == "CONNECT" || !o.sub_resource.empty()) {
    result.outcome = std::move(o);
    return result;
  }
  const Json* object = json::field(request, "object");
  if (object == nullptr || !object->is_object()) return fail("request.object is missing for " + o.operation);

  EvalOptions options;
  options.default_namespace = o.ns;
  options.today = today;
  ObjectVerdict verdict = evaluate_object(policy, *object, options);
  if (o.name.empty()) o.name = verdict.name;
  if (o.ns.empty()) o.ns = verdict.ns;
  if (!verdict.checked) {
    result.outcome = std::move(o);
    return result;
  }

  // Ratcheting: on UPDATE, a violation the old object already had does not
  // deny, so that fixing one problem never requires fixing all of them.
  std::set<std::string> before;
  const Json* old_object = json::field(request, "oldObject");
  if (operation == "UPDATE" && old_object != nullptr && old_object->is_object()) {
    for (const Violation& v : evaluate_object(policy, *old_object, options).violations) before.insert(ratchet_key(v));
  }

  std::vector<std::string> denies;
  std::vector<std::string> warnings;
  Json audit = Json::object();
  o.ratcheted.assign(verdict.violations.size(), false);
  for (std::size_t i = 0; i < verdict.violations.size(); ++i) {
    const Violation& v = verdict.violations[i];
    const std::string text = describe_violation(v);
    switch (v.action) {
      case Action::kDeny:
        if (before.count(ratchet_key(v)) != 0) {
          o.ratcheted[i] = true;
          warnings.push_back("(already present, not denied on update) " + text);
        } else {
          denies.push_back(text);
        }
        break;
      case Action::kWarn:
        warnings.push_back(text);
        break;
      case Action::kAudit: {
        std::string entry = (v.container ? "container \"" + *v.container + "\" " : "") + v.path.str() + ": " + v.message;
        const std::string_view rule = v.rule;
        std::string value = audit.contains(rule) ? audit[rule].get<std::string>() + "; " + entry : entry;
        audit[rule] = cut(std::move(value), kMaxAuditValue);
        break;
      }
      case Action::kOff:
        break;
    }
  }
  for (const std::string& note : verdict.notes) warnings.push_back(note);
  if (!verdict.exempted.empty()) {
    std::set<std::pair<std::string, std::string>> seen;
    std::string value;
    for (const AppliedExemption& e : verdict.exempted) {
      if (!seen.emplace(e.rule, e.reason).second) continue;
      value += (value.empty() ? "" : "; ") + e.rule + " (" + e.source + "): " + e.reason;
    }
    audit["exempted"] = cut(std::move(value), kMaxAuditValue);
  }

  Json& response = o.response["response"];
  if (!denies.empty()) {
    std::string message = verdict.display_name() + " breaks " + std::to_string(denies.size()) +
                          (denies.size() == 1 ? " rule" : " rules") + " of the container contract:";
    for (const std::string& d : denies) message += "\n- " + d;
    response["allowed"] = false;
    response["status"] = {{"status", "Failure"}, {"reason", "Forbidden"}, {"code", 403}, {"message", cut(message, kMaxDenyMessage)}};
    o.decision = Decision::kDenied;
  } else {
    o.decision = Decision::kAllowed;
  }
  if (!warnings.empty()) response["warnings"] = fit_warnings(warnings);
  if (!audit.empty()) response["auditAnnotations"] = std::move(audit);
  o.violations = std::move(verdict.violations);
  o.exempted = std::move(verdict.exempted);
  result.outcome = std::move(o);
  return result;
}

ReadResult read_admission_review(std::string_view body) {
  // The same strict reader as `podguard check` (RFC 8259, valid UTF-8, no
  // duplicate keys), so both judge the same bytes the same way.
  ReadLimits limits;
  limits.record_positions = false;  // responses name fields by path, not by line
  limits.drop_managed_fields = true;
  limits.drop_unread_review_fields = true;
  limits.use_arena = true;
  return read_documents(body, InputFormat::kJson, limits);
}

AdmissionResult review_admission_read(const Policy& policy, const ReadResult& read, Day today) {
  if (read.error) {
    return fail("the body is not valid JSON: " + read.error->message + " (line " + std::to_string(read.error->pos.line) +
                ", column " + std::to_string(read.error->pos.column) + ")");
  }
  if (read.documents.size() != 1) {
    return fail(read.documents.empty() ? "the body is empty" : "the body holds more than one JSON value");
  }
  return review_admission(policy, read.documents.front().value, today);
}

AdmissionResult review_admission_text(const Policy& policy, std::string_view body, Day today) {
  return review_admission_read(policy, read_admission_review(body), today);
}

}  // namespace podguard

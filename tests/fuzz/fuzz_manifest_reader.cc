// libFuzzer target: manifest text of any shape must parse or fail with a
// position, and evaluating whatever parsed must not crash. JSON is also
// checked against nlohmann's parser: both accept the same texts (apart from
// duplicate keys and nesting limits, which podguard rejects on purpose) and
// build the same values. Reading JSON while skipping admission's unread
// review fields must agree with reading it whole and erasing every
// metadata.managedFields and the unread parts of a review. write_json
// writes every value read as nlohmann's dump does.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

#include "engine/admission/admission.h"
#include "engine/policy/evaluate.h"
#include "engine/reading/json_writer.h"
#include "engine/reading/manifest_reader.h"
#include "engine/rules/builtin.h"

namespace {

void erase_managed_fields(podguard::Json& v) {
  if (v.is_object()) {
    for (auto& [key, child] : v.items()) {
      if (key == "metadata" && child.is_object()) child.erase("managedFields");
      erase_managed_fields(child);
    }
  } else if (v.is_array()) {
    for (auto& child : v) erase_managed_fields(child);
  }
}

// What admission leaves out of a top-level "request".
void erase_unread_review_fields(podguard::Json& document) {
  if (!document.is_object() || !document.contains("request") || !document["request"].is_object()) return;
  podguard::Json& request = document["request"];
  for (const char* key : {"userInfo", "options", "requestKind", "requestResource"}) request.erase(key);
  for (const char* key : {"object", "oldObject"}) {
    if (request.contains(key) && request[key].is_object()) request[key].erase("status");
  }
}

// False for a stream of values (`null {...}`): podguard drops the null and
// reads one document, which nlohmann's single-value parse cannot match. Text
// nlohmann cannot read at all counts as single, so the check still runs.
bool single_json_value(std::string_view text) {
  std::istringstream in{std::string(text)};
  try {
    podguard::Json first;
    in >> first;
  } catch (const std::exception&) {
    return true;
  }
  in >> std::ws;
  return in.peek() == std::char_traits<char>::eof();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  podguard::ReadLimits limits;
  limits.max_nodes = 200'000;
  static const podguard::Policy policy = [] {
    podguard::Policy p = podguard::Policy::defaults(podguard::builtin_rules());
    for (auto& s : p.rules) s.action = podguard::Action::kDeny;
    return p;
  }();
  for (auto format : {podguard::InputFormat::kYaml, podguard::InputFormat::kJson}) {
    const podguard::ReadResult r = podguard::read_documents(text, format, limits);
    if (!r.error.ok() && r.error.message().empty()) __builtin_trap();
    for (const auto& doc : r.documents) {
      // write_json (the webhook's answers, the log) writes what nlohmann writes.
      const auto dumped = doc.value.dump(-1, ' ', false, podguard::Json::error_handler_t::replace);
      if (podguard::write_json(doc.value) != std::string_view(dumped.data(), dumped.size())) __builtin_trap();
      for (const auto& verdict : podguard::evaluate_document(policy, doc.value, {})) {
        for (const auto& v : verdict.violations) (void)doc.positions.locate(verdict.root, v.path);
      }
    }
    if (format == podguard::InputFormat::kJson) {
      podguard::ReadLimits dropping = limits;
      static const podguard::SkippedFields kSkipped =
          podguard::SkippedFields::compile(podguard::unread_review_fields()).value();
      dropping.skip = &kSkipped;
      dropping.use_arena = true;  // as the webhook reads: nodes in one arena
      const podguard::ReadResult d = podguard::read_documents(text, format, dropping);
      // Duplicate keys inside a skipped managedFields go unnoticed, so only
      // a success of the whole read binds the dropping one.
      if (r.error.ok()) {
        if (!d.error.ok() || d.documents.size() != r.documents.size()) __builtin_trap();
        for (std::size_t i = 0; i < r.documents.size(); ++i) {
          podguard::Json expected = r.documents[i].value;
          erase_managed_fields(expected);
          erase_unread_review_fields(expected);
          if (!(d.documents[i].value == expected)) __builtin_trap();
        }
      } else if (d.error.ok() && r.error.message().find("duplicate key") == std::string::npos) {
        __builtin_trap();
      }
    }
    // nlohmann stops reading at a NUL byte; podguard rejects it as RFC 8259 says.
    const bool has_nul = text.find('\0') != std::string_view::npos;
    if (format == podguard::InputFormat::kJson && r.documents.size() <= 1 && !has_nul && single_json_value(text)) {
      // Differential check against nlohmann for a single value.
      const podguard::Json reference = podguard::Json::parse(text, nullptr, false);
      const bool ours = r.error.ok() && r.documents.size() == 1;
      const bool theirs = !reference.is_discarded() && !reference.is_null();
      const bool podguard_only_rule = !r.error.ok() && (r.error.message().find("duplicate key") != std::string::npos ||
                                                  r.error.message().find("deeper") != std::string::npos ||
                                                  r.error.message().find("nodes") != std::string::npos);
      if (ours && theirs && !(r.documents[0].value == reference)) __builtin_trap();
      if (ours != theirs && !podguard_only_rule && !(r.documents.empty() && r.error.ok() && reference.is_null())) {
        __builtin_trap();
      }
    }
  }
  return 0;
}

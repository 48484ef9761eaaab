// libFuzzer target: any HTTP body must give either a well-formed
// AdmissionReview response or a malformed-review error, never a crash; the
// response's text as the webhook writes it is nlohmann's.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/admission/admission.h"
#include "engine/reading/json_writer.h"
#include "engine/rules/builtin.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const podguard::Policy policy = podguard::Policy::defaults(podguard::builtin_rules());
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const podguard::AdmissionResult r = podguard::review_admission_text(policy, body);
  if (!r.error.ok() == r.outcome.has_value()) __builtin_trap();
  if (r.outcome) {
    const auto& response = r.outcome->response["response"];
    if (!response["allowed"].is_boolean() || !response["uid"].is_string()) __builtin_trap();
    // The webhook writes answers with write_json: byte for byte nlohmann's.
    const auto nlohmann_text = r.outcome->response.dump(-1, ' ', false, podguard::Json::error_handler_t::replace);
    if (podguard::write_json(r.outcome->response) != std::string_view(nlohmann_text.data(), nlohmann_text.size())) {
      __builtin_trap();
    }
    if (response.contains("warnings")) {
      std::size_t total = 0;
      for (const auto& w : response["warnings"]) {
        if (w.get<std::string>().size() > podguard::kMaxWarningLength) __builtin_trap();
        total += w.get<std::string>().size();
      }
      if (total > podguard::kMaxWarningsTotal) __builtin_trap();
    }
  }
  return 0;
}

// libFuzzer target: any text either parses as a Dockerfile or gives an
// error with a line and a message; what parses is analysed and judged by
// every rule that reads Dockerfiles, never crashing, and every finding
// points at a line of the file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/facts/dockerfile_facts.h"
#include "engine/policy/evaluate_dockerfile.h"
#include "engine/rules/builtin.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace podguard;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Dockerfile> parsed = parse_dockerfile(text);
  if (!parsed.ok()) {
    if (parsed.error().message().empty() || (!parsed.error().is(StatusCode::kTooLarge) && !parsed.error().pos().known())) {
      __builtin_trap();
    }
    return 0;
  }
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  for (const Instruction& ins : parsed.value().instructions) {
    if (ins.pos.line < 1 || ins.pos.line > lines || ins.end_line < ins.pos.line || ins.end_line > lines) {
      __builtin_trap();
    }
  }
  static const Policy kPolicy = Policy::defaults(builtin_rules());
  const DockerfileFacts facts(std::move(parsed).value());
  const DockerfileVerdict verdict = evaluate_dockerfile(kPolicy, facts, "Dockerfile", {});
  for (const SourcePos& pos : verdict.violation_pos) {
    if (pos.line < 1 || pos.line > lines || pos.column < 1) __builtin_trap();
  }
  return 0;
}

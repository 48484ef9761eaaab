// libFuzzer target: any config text loads or gives errors that each carry
// a key and a message, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/policy/config.h"
#include "engine/rules/builtin.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const podguard::ConfigLoad load = podguard::load_config(std::string_view(reinterpret_cast<const char*>(data), size), podguard::builtin_rules());
  if (load.policy.has_value() == !load.errors.empty()) __builtin_trap();
  for (const auto& e : load.errors) {
    if (e.key().empty() || e.message().empty()) __builtin_trap();
  }
  return 0;
}

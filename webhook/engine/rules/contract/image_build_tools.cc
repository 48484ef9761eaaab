// image-build-tools: compilers and build tools stay out of the runtime
// image.
//
// Reads, in a Dockerfile, the packages that RUN instructions install with
// an OS package manager (facts/package_installs.h) in the final stage and
// in every stage it is built FROM; stages that are only copied from (COPY
// --from) are build stages and may hold anything. A package removed again
// in the same RUN never reaches a layer and passes. Also fails a final
// stage built FROM a toolchain image (golang, gcc, rust, maven, ...).
#include <algorithm>
#include <array>
#include <cctype>
#include <unordered_set>

#include "engine/facts/dockerfile_facts.h"
#include "engine/facts/image_reference.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/dockerfile_text.h"
#include "engine/rules/contract/image_config_text.h"

namespace podguard::rules {
namespace {

// Compilers, build systems and the meta-packages that pull them in, by
// package name across Debian/Ubuntu, Alpine, Fedora/RHEL and SUSE.
constexpr std::array<std::string_view, 30> kBuildTools = {
    "gcc",         "g++",       "gcc-c++",    "cc",       "c++",        "clang",          "tcc",
    "gfortran",    "golang",    "golang-go",  "go",       "rustc",      "cargo",          "build-essential",
    "build-base",  "alpine-sdk", "make",      "cmake",    "ninja",      "ninja-build",    "meson",
    "autoconf",    "automake",  "libtool",    "libtool-bin", "pkg-config", "pkgconf",     "pkgconfig",
    "bison",       "flex",
};

// Images whose whole point is a toolchain: a final stage built FROM one
// ships the compiler.
constexpr std::array<std::string_view, 7> kToolchainImages = {"golang", "gcc",           "rust",  "maven",
                                                              "gradle", "buildpack-deps", "clang"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// gcc-12, g++-12, clang-15, golang-1.21: a versioned build of a tool above.
bool versioned_tool(std::string_view name) {
  const auto dash = name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= name.size()) return false;
  const std::string_view version = name.substr(dash + 1);
  if (version.find_first_not_of("0123456789.") != std::string_view::npos || version.front() == '.') return false;
  const std::string_view tool = name.substr(0, dash);
  return tool == "gcc" || tool == "g++" || tool == "clang" || tool == "golang" || tool == "gfortran";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_build_tool(const PackageInstall& p) {
  switch (p.kind) {
    case PackageInstall::Kind::kBuildDeps:
      return true;
    case PackageInstall::Kind::kGroup:
      return lower(p.package).find("devel") != std::string::npos;  // "Development Tools", devel_basis
    case PackageInstall::Kind::kPackage:
      break;
  }
  const std::string name = lower(p.package);
  if (std::find(kBuildTools.begin(), kBuildTools.end(), name) != kBuildTools.end()) return true;
  if (ends_with(name, "-dev") || ends_with(name, "-devel") || name == "@development-tools") return true;
  return versioned_tool(name);
}

// Tools named in one message; the rest are counted.
constexpr std::size_t kMaxNamed = 10;

std::string describe(const PackageInstall& p) {
  if (p.kind == PackageInstall::Kind::kBuildDeps) return "the build dependencies of " + p.package;
  if (p.kind == PackageInstall::Kind::kGroup) return "the group \"" + p.package + "\"";
  return p.package;
}

void check_dockerfile(const DockerfileFacts& dockerfile, const RuleParams&, DockerfileFindings& out) {
  const DockerfileStage& final_stage = dockerfile.final_stage();
  const std::string fix =
      "; they stay in the runtime image. Install and use them in a build stage and COPY --from it only the "
      "artifact (or remove them in the same RUN)";
  for (std::size_t s : dockerfile.lineage(final_stage.index)) {
    for (const DockerfileRun& run : dockerfile.stages()[s].runs) {
      std::vector<std::string> tools;  // the first kMaxNamed, in order
      std::unordered_set<std::string> seen;
      const PackageInstall* first = nullptr;
      for (const PackageInstall& p : run.installs) {
        if (p.removed || !is_build_tool(p)) continue;
        if (first == nullptr) first = &p;
        std::string d = describe(p);
        if (seen.insert(d).second && tools.size() < kMaxNamed) tools.push_back(std::move(d));
      }
      if (first == nullptr) continue;
      if (seen.size() > tools.size()) tools.push_back(std::to_string(seen.size() - tools.size()) + " more");
      out.add(s, run.instruction, first->pos,
              "RUN installs build tools (" + join_names(tools) + ") with " + first->manager + " in " +
                  stage_phrase(dockerfile, s) + fix);
    }
  }
  const DockerfileStage& root = dockerfile.root(final_stage.index);
  const ImageParse parsed = parse_image_reference(root.base);
  if (!parsed.ref) return;
  const std::string& repository = parsed.ref->repository;
  const std::string_view last = std::string_view(repository).substr(repository.rfind('/') + 1);
  if (std::find(kToolchainImages.begin(), kToolchainImages.end(), last) != kToolchainImages.end()) {
    out.add(root.index, root.from, root.base_pos,
            "the final image is built FROM " + root.base + ", a toolchain image (" + stage_phrase(dockerfile, root.index) +
                "): its compilers and build tools ship with the application. Build in that image and COPY --from "
                "the artifact into a runtime base (distroless, debian-slim, alpine)");
  }
}

// The shell script a history step ran, or "" for a metadata step:
// "RUN /bin/sh -c apt-get install -y gcc # buildkit" (BuildKit),
// "/bin/sh -c apt-get install -y gcc" and "|1 V=2 /bin/sh -c ..." (the
// classic builder), never "/bin/sh -c #(nop) ...".
std::string_view history_script(std::string_view step) {
  constexpr std::string_view kShell = "/bin/sh -c ";
  const auto at = step.find(kShell);
  if (at == std::string_view::npos) return {};
  std::string_view script = step.substr(at + kShell.size());
  if (script.substr(0, 6) == "#(nop)") return {};
  constexpr std::string_view kBuildkit = " # buildkit";
  if (script.size() >= kBuildkit.size() && script.substr(script.size() - kBuildkit.size()) == kBuildkit) {
    script.remove_suffix(kBuildkit.size());
  }
  return script;
}

void check_image(const ImageSubject& in, const RuleParams&, ImageFindings& out) {
  if (in.facts == nullptr) return;
  const WordExpansion no_expansion = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  for (std::size_t i = 0; i < in.facts->images.size(); ++i) {
    const PlatformImage& image = in.facts->images[i];
    const std::vector<ImageHistoryEntry>& history = image.config->history;
    for (std::size_t h = 0; h < history.size(); ++h) {
      const std::string_view script = history_script(history[h].created_by);
      if (script.empty()) continue;
      std::vector<std::string> tools;
      std::unordered_set<std::string> seen;
      std::string manager;
      for (const PackageInstall& p : package_installs({script}, no_expansion)) {
        if (p.removed || !is_build_tool(p)) continue;
        if (manager.empty()) manager = p.manager;
        std::string d = describe(p);
        if (seen.insert(d).second && tools.size() < kMaxNamed) tools.push_back(std::move(d));
      }
      if (tools.empty()) continue;
      if (seen.size() > tools.size()) tools.push_back(std::to_string(seen.size() - tools.size()) + " more");
      out.add(i, history_path(h),
              image_phrase(*in.facts, image) + "'s history step " + std::to_string(h + 1) +
                  " installs build tools (" + join_names(tools) + ") with " + manager +
                  "; they ship in the runtime image. Install and use them in a build stage and COPY --from it only "
                  "the artifact (or remove them in the same RUN)");
    }
  }
}

}  // namespace

const Rule& image_build_tools() {
  static const Rule kRule{
      .doc =
          {
              .id = "image-build-tools",
              .summary = "Compilers or build tools installed in the runtime image.",
              .description =
                  "Judges Dockerfiles: the packages installed by RUN instructions of the final stage and of every "
                  "stage it is built FROM, with apt-get, apt, aptitude, apk, dnf, yum, microdnf, tdnf or zypper "
                  "(in the command, in sh -c '...', or in a heredoc). Stages the final one only copies from (COPY "
                  "--from) are build stages and are not judged, and a package removed again in the same RUN "
                  "(apt-get purge, apk del of it or of its --virtual group, dnf remove) passes. Build tools are: "
                  "compilers (gcc, g++, gcc-c++, cc, c++, clang, tcc, gfortran, golang, go, rustc, cargo, and "
                  "versioned gcc-12, clang-15, ...), build systems (make, cmake, ninja, ninja-build, meson, "
                  "autoconf, automake, libtool, pkg-config, pkgconf, bison, flex), the meta-packages "
                  "build-essential, build-base and alpine-sdk, every *-dev and *-devel package (headers), "
                  "apt-get build-dep and dnf builddep, and package groups whose name says devel (\"Development "
                  "Tools\", devel_basis). A final stage built FROM a toolchain image (golang, gcc, rust, clang, "
                  "maven, gradle, buildpack-deps) fails too. Language package managers (pip, npm, gem) install "
                  "libraries, not toolchains, and are not judged. Judges images: the shell command of each RUN step "
                  "in the history of each platform image judged (created_by), with the same reading of package "
                  "installs and the same list of build tools. "
                  "With image lookups on (images.lookup), it also judges the image of every container of a workload, "
                  "with the finding on the container's image field.",
              .rationale =
                  "A compiler in the runtime image lets anyone who gets a shell in the container build their "
                  "tools on the spot, and headers and toolchains add hundreds of megabytes and CVEs to every pull "
                  "and scan. The contract ships only what runs.",
              .remediation =
                  "Move the build to a build stage (FROM ... AS build) and COPY --from=build only the artifact "
                  "into a runtime stage that installs runtime libraries alone (libssl3, not libssl-dev); or "
                  "install and remove the tools in one RUN.",
          },
      .contract_action = Action::kWarn,
      .dockerfile_check = check_dockerfile,
      .image_check = check_image,
  };
  return kRule;
}

}  // namespace podguard::rules

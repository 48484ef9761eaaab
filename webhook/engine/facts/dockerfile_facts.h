// What a parsed Dockerfile means, for the rules that judge it: its build
// stages and the stage each is built FROM, the values variables take where
// Docker substitutes them (ARGs before the first FROM in FROM lines; ARG
// and ENV inside a stage, ENV inherited through FROM <stage>), and per
// stage its ARG, ENV and LABEL values, the packages its RUN instructions
// install, and the USER, HEALTHCHECK, ENTRYPOINT and CMD in force at its
// end (set in it or inherited from the stage it is built FROM).
//
// BuildKit's automatic platform ARGs (TARGETARCH, BUILDPLATFORM, ...) take
// linux/amd64 values. Substituted values are bounded in size (see
// kMaxExpandedBytes), and so are the lookups made through long FROM <stage>
// chains (past the budget a variable reads as unset), so a hostile file
// cannot make the analysis slow or large.
//
// Immutable once built; const access is safe from any number of threads.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/facts/package_installs.h"
#include "engine/reading/dockerfile.h"

namespace podguard {

// A name and value set by ARG, ENV or LABEL.
struct DockerfileValue {
  std::string name;
  std::string value;             // after substitution
  bool has_value = false;        // false for `ARG NAME` without a default
  bool literal = false;          // the value holds characters written in the file, not only variables
  bool references = false;       // the value refers to variables
  std::vector<std::string> unset;  // variables it refers to that have no value there
  std::size_t instruction = 0;
  SourcePos pos;                 // of the name
};

// A USER instruction, substituted.
struct DockerfileUser {
  std::string value;  // "1001:1001", "app", "" when it substitutes to nothing
  std::vector<std::string> unset;
  std::size_t instruction = 0;
  std::size_t stage = 0;  // where it is written (an ancestor when inherited)
};

struct DockerfileRun {
  std::size_t instruction = 0;
  std::vector<PackageInstall> installs;  // positions filled in
};

struct DockerfileStage {
  std::size_t index = 0;
  std::string name;      // after AS, as written; empty when unnamed
  std::size_t from = 0;  // its FROM instruction
  std::size_t end = 0;   // one past its last instruction
  // FROM's image with the ARGs before the first FROM substituted, or the
  // name of the earlier stage it is built FROM.
  std::string base;
  std::vector<std::string> base_unset;  // ARGs the image refers to that have no value
  bool base_truncated = false;
  SourcePos base_pos;
  std::optional<std::size_t> parent;  // the earlier stage FROM names

  std::vector<DockerfileValue> args;    // ARG instructions in the stage
  std::vector<DockerfileValue> env;     // ENV
  std::vector<DockerfileValue> labels;  // LABEL
  std::vector<DockerfileRun> runs;

  // In force at the end of the stage: the last one in it, else the
  // parent's. ENTRYPOINT resets a CMD set before this stage (Docker's rule).
  std::optional<DockerfileUser> user;
  std::optional<std::size_t> healthcheck;  // instruction indexes
  std::optional<std::size_t> entrypoint;
  std::optional<std::size_t> cmd;

  // How messages and exemptions name the stage: its name, or its index
  // ("0") when it has none, as COPY --from does.
  [[nodiscard]] std::string display_name() const { return name.empty() ? std::to_string(index) : name; }
};

class DockerfileFacts {
 public:
  // Bounds every substituted value, and all of them together.
  static constexpr std::size_t kMaxExpandedBytes = 64u << 10;
  static constexpr std::size_t kMaxExpandedTotal = 16u << 20;

  explicit DockerfileFacts(Dockerfile file);

  [[nodiscard]] const Dockerfile& file() const { return file_; }
  [[nodiscard]] const Instruction& instruction(std::size_t i) const { return file_.instructions[i]; }
  [[nodiscard]] const std::vector<DockerfileValue>& global_args() const { return global_args_; }
  [[nodiscard]] const std::vector<DockerfileStage>& stages() const { return stages_; }
  // The stage `docker build` builds without --target: the last one.
  [[nodiscard]] const DockerfileStage& final_stage() const { return stages_.back(); }

  // `stage`, then the stage it is built FROM, and so on: every stage whose
  // filesystem and settings end up in its image.
  [[nodiscard]] std::vector<std::size_t> lineage(std::size_t stage) const;
  // The stage at the top of the lineage: the one built FROM an image.
  [[nodiscard]] const DockerfileStage& root(std::size_t stage) const;
  // The stage an instruction belongs to; nullopt for ARGs before the first FROM.
  [[nodiscard]] std::optional<std::size_t> stage_of(std::size_t instruction) const;
  // The LABEL in force at the end of `stage` (set there or inherited), or nullptr.
  [[nodiscard]] const DockerfileValue* label(std::size_t stage, std::string_view name) const;
  // The ARG of that name before the first FROM, or nullptr.
  [[nodiscard]] const DockerfileValue* global_arg(std::string_view name) const;

 private:
  Dockerfile file_;
  std::vector<DockerfileValue> global_args_;
  std::vector<DockerfileStage> stages_;
};

}  // namespace podguard

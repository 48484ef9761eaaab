// Judging a Dockerfile: every rule with a Dockerfile check, at the action
// the policy gives it, with config exemptions and inline exemptions applied.
//
// A Dockerfile has no namespace, so namespace overrides never apply to it.
// Config exemptions match it this way:
//   names       glob against its path as podguard shows it, without a leading ./
//   namespaces  never: an exemption that lists namespaces covers no Dockerfile
//   containers  glob against the stage a finding is about (its AS name, or
//               its index "0", "1" ... when unnamed)
//   images      glob against that stage's base image, the image at the top
//               of its FROM <stage> chain, after ARG substitution
// With containers or images set, findings about no stage (ARGs before the
// first FROM) are not covered, as pod-level findings are not for pods.
//
// Inline exemptions are comments directly above an instruction (no blank
// line between), covering the findings that point at that instruction:
//
//   # podguard:ignore image-build-tools,image-user reason="debug image, OPS-7"
//   RUN apt-get install -y gcc
//
// Without a non-empty reason, or with allowAnnotationExemptions: false, the
// comment is ignored and a note says so, as for exemption annotations.
//
// Reads the policy and the facts and changes neither; safe from many threads.
#pragma once

#include <string_view>
#include <vector>

#include "engine/facts/dockerfile_facts.h"
#include "engine/policy/evaluate.h"

namespace podguard {

inline constexpr std::string_view kInlineExemptionComment = "podguard:ignore";

struct DockerfileVerdict {
  // kind "Dockerfile", name the path, no namespace. A violation's or an
  // exemption's `container` is the stage it is about; its `path` is
  // stages[i].<INSTRUCTION>. Violations are in file order.
  ObjectVerdict verdict;
  std::vector<SourcePos> violation_pos;  // parallel to verdict.violations
  std::vector<SourcePos> exemption_pos;  // parallel to verdict.exempted
};

DockerfileVerdict evaluate_dockerfile(const Policy& policy, const DockerfileFacts& dockerfile, std::string_view path,
                                      const EvalOptions& options);

}  // namespace podguard

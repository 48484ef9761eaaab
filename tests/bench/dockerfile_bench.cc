// Parsing and judging Dockerfiles: 1,000 generated Dockerfiles of 40 lines
// each (two stages, ARGs, continuation lines, a heredoc in a third of them,
// ENV, LABEL, HEALTHCHECK; a seventh install a compiler, a fifth run as a
// user name, a ninth use a shell-form CMD), parsed, analysed and judged by
// every rule of the contract profile on one thread, best of RUNS. Prints
// figures; asserts nothing (docs/benchmarks.md records them). Target: the
// 1,000 in under 0.2 s.
//   dockerfile_bench [FILES=1000] [RUNS=5] [--write DIR]
// --write DIR also writes the corpus to DIR, for `podguard check -j1 DIR`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "engine/facts/dockerfile_facts.h"
#include "engine/policy/evaluate_dockerfile.h"
#include "engine/rules/builtin.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kLines = 40;

std::string dockerfile(std::size_t i) {
  const std::string n = std::to_string(i);
  std::vector<std::string> lines = {
      "# syntax=docker/dockerfile:1",
      "ARG GO_VERSION=1.22." + std::to_string(i % 10),
      "ARG BASE=debian:12." + std::to_string(i % 6) + "-slim",
      "FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build",
      "WORKDIR /src",
      "COPY go.mod go.sum ./",
      "RUN --mount=type=cache,target=/go/pkg/mod go mod download",
      "COPY . .",
      "RUN CGO_ENABLED=0 go build -trimpath -ldflags \"-s -w\" \\",
      "      -o /out/service-" + n + " ./cmd/service",
      "FROM ${BASE} AS runtime",
      "ARG VERSION=1." + n + ".0",
      "ARG REVISION=unknown",
      "RUN apt-get update \\",
      " && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\",
      std::string("      ca-certificates tzdata libssl3") + (i % 7 == 0 ? " gcc libssl-dev" : "") + " \\",
      " && rm -rf /var/lib/apt/lists/*",
  };
  if (i % 3 == 0) {
    lines.insert(lines.end(), {"RUN <<EOF", "set -eu", "mkdir -p /srv/app/data", "chown 1001:1001 /srv/app/data", "EOF"});
  }
  lines.insert(lines.end(), {
                                "ENV APP_HOME=/srv/app \\",
                                "    PORT=8080 \\",
                                "    LOG_LEVEL=info",
                                "LABEL org.opencontainers.image.source=\"https://git.example.com/svc-" + n + "\" \\",
                                "      org.opencontainers.image.revision=\"${REVISION}\" \\",
                                "      org.opencontainers.image.version=\"${VERSION}\"",
                                "COPY --from=build --chown=1001:1001 /out/service-" + n + " /usr/local/bin/service",
                                i % 5 == 0 ? "USER app" : "USER 1001:1001",
                                "EXPOSE 8080",
                                "HEALTHCHECK --interval=10s --timeout=3s CMD [\"/usr/local/bin/service\", \"probe\"]",
                                "STOPSIGNAL SIGTERM",
                                "ENTRYPOINT [\"/usr/local/bin/service\"]",
                                i % 9 == 0 ? "CMD serve --port 8080" : "CMD [\"serve\", \"--port\", \"8080\"]",
                            });
  // Comments up to 40 lines, spread above the stages and their RUNs.
  for (std::size_t k = 0; lines.size() < kLines; ++k) {
    const std::size_t at = k % 2 == 0 ? 3 : 10 + (k % 3);
    lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(at), "# note " + std::to_string(k) + " on service " + n);
  }
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

struct Run {
  double parse_s = 0, facts_s = 0, judge_s = 0;
  std::size_t violations = 0;
};

Run run_once(const std::vector<std::string>& corpus, const podguard::Policy& policy) {
  Run r;
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    const auto t0 = Clock::now();
    podguard::Result<podguard::Dockerfile> parsed = podguard::parse_dockerfile(corpus[i]);
    const auto t1 = Clock::now();
    if (!parsed.ok()) {
      std::cerr << "dockerfile_bench: file " << i << ": " << parsed.status().to_string() << "\n";
      std::exit(2);
    }
    const podguard::DockerfileFacts facts(std::move(parsed).value());
    const auto t2 = Clock::now();
    const podguard::DockerfileVerdict v = podguard::evaluate_dockerfile(policy, facts, "Dockerfile", {});
    const auto t3 = Clock::now();
    r.violations += v.verdict.violations.size();
    r.parse_s += std::chrono::duration<double>(t1 - t0).count();
    r.facts_s += std::chrono::duration<double>(t2 - t1).count();
    r.judge_s += std::chrono::duration<double>(t3 - t2).count();
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 1000;
  int runs = 5;
  std::string write_dir;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--write" && i + 1 < argc) {
      write_dir = argv[++i];
    } else {
      positional.push_back(a);
    }
  }
  if (!positional.empty()) files = std::stoul(positional[0]);
  if (positional.size() > 1) runs = std::stoi(positional[1]);

  std::vector<std::string> corpus;
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < files; ++i) {
    corpus.push_back(dockerfile(i));
    bytes += corpus.back().size();
  }
  if (!write_dir.empty()) {
    std::filesystem::create_directories(write_dir);
    for (std::size_t i = 0; i < files; ++i) {
      std::ofstream(std::filesystem::path(write_dir) / ("service-" + std::to_string(i) + ".Dockerfile")) << corpus[i];
    }
  }
  const podguard::Policy policy = podguard::Policy::defaults(podguard::builtin_rules());
  Run best;
  double best_total = 1e9;
  for (int k = 0; k < runs; ++k) {
    const Run r = run_once(corpus, policy);
    const double total = r.parse_s + r.facts_s + r.judge_s;
    if (total < best_total) {
      best_total = total;
      best = r;
    }
  }
  std::printf("%zu Dockerfiles of %zu lines (%zu bytes), one thread, best of %d runs\n", files, kLines, bytes, runs);
  std::printf("  parse                 %8.4f s  %7.1f us/file\n", best.parse_s, 1e6 * best.parse_s / files);
  std::printf("  facts (stages, vars)  %8.4f s  %7.1f us/file\n", best.facts_s, 1e6 * best.facts_s / files);
  std::printf("  judge (every rule)    %8.4f s  %7.1f us/file\n", best.judge_s, 1e6 * best.judge_s / files);
  std::printf("  total                 %8.4f s  %7.1f us/file  %9.0f files/s  (target for 1000 files: < 0.2 s)\n",
              best_total, 1e6 * best_total / files, files / best_total);
  std::printf("  findings per run      %zu\n", best.violations);
  return 0;
}

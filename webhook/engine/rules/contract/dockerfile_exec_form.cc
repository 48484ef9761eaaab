// dockerfile-exec-form: the application is PID 1 and receives SIGTERM.
//
// Reads, in a Dockerfile, the ENTRYPOINT and CMD in force at the end of
// the final stage (inherited through FROM <stage>, with Docker's rule that
// an ENTRYPOINT drops a CMD set before its stage). Fails on a shell-form
// ENTRYPOINT; on a shell-form CMD when there is no ENTRYPOINT; on a
// shell-form CMD after an exec-form ENTRYPOINT (Docker hands the
// entrypoint "/bin/sh" "-c" "<text>" as arguments); and on an exec form
// that runs several commands through `sh -c` without `exec`.
#include <algorithm>

#include "engine/facts/dockerfile_facts.h"
#include "engine/reading/dockerfile_words.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/rules/contract/dockerfile_text.h"

namespace podguard::rules {
namespace {

class NoVariables final : public VariableScope {
 public:
  std::optional<std::string_view> value(std::string_view) const override { return std::nullopt; }
};

bool uses_shell_syntax(std::string_view text) { return text.find_first_of("&|;<>$`*?(){}\n") != std::string_view::npos; }

// `exec app`: the shell replaces itself with the application.
bool starts_with_exec(std::string_view text) { return text.substr(0, 5) == "exec " || text.substr(0, 5) == "exec\t"; }

// What to write instead of a shell-form command.
std::string exec_form_of(const Instruction& ins, char escape) {
  if (uses_shell_syntax(ins.args)) {
    return "it uses shell syntax, so move it into a script that ends with exec \"$@\" or exec <app> and write " +
           ins.keyword + " [\"/app/entrypoint.sh\"] (or prefix the last command with exec and write " + ins.keyword +
           " [\"/bin/sh\", \"-c\", \"... exec <app>\"])";
  }
  std::vector<std::string> words;
  const NoVariables none;
  for (const WordSpan& w : split_words(ins.args, escape)) {
    words.push_back(expand_word(std::string_view(ins.args).substr(w.begin, w.end - w.begin), escape, none).text);
  }
  if (!words.empty() && words.front() == "exec") words.erase(words.begin());  // a shell builtin, not a program
  return "write " + ins.keyword + " " + json_array(words);
}

// An exec form that starts a shell to run several commands without exec,
// e.g. ["sh", "-c", "migrate && server"]: the shell stays PID 1.
bool shell_stays_pid1(const Instruction& ins) {
  const std::vector<std::string>& args = ins.exec_args;
  if (args.empty()) return false;
  const std::string_view program = std::string_view(args[0]).substr(args[0].rfind('/') + 1);
  if (program != "sh" && program != "bash" && program != "ash" && program != "dash" && program != "zsh") return false;
  for (std::size_t i = 1; i + 1 < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-' || a.find('c') == std::string::npos) continue;
    const std::string& script = args[i + 1];
    const bool several = script.find_first_of(";|&\n") != std::string::npos;
    return several && script.find("exec ") == std::string::npos;
  }
  return false;
}

void check_dockerfile(const DockerfileFacts& dockerfile, const RuleParams&, DockerfileFindings& out) {
  const DockerfileStage& final_stage = dockerfile.final_stage();
  const char escape = dockerfile.file().escape;
  const std::string pid1 =
      " as PID 1: SIGTERM goes to the shell, which does not pass it on, so the application never hears it and is "
      "killed when the grace period ends";
  auto add = [&](std::size_t instruction, std::string message) {
    const std::size_t stage = dockerfile.stage_of(instruction).value_or(final_stage.index);
    if (stage != final_stage.index) message += " (in " + stage_phrase(dockerfile, stage) + ")";
    out.add(stage, instruction, dockerfile.instruction(instruction).pos, std::move(message));
  };
  // What a shell form does wrong: the shell is PID 1, or, when the command
  // starts with exec, it is not but stays one edit away from it.
  auto shell_form = [&](const Instruction& ins) {
    if (starts_with_exec(ins.args)) {
      return ins.keyword + " in shell form: its exec makes the application PID 1, but the signal handling then "
                           "hangs on every later edit keeping the exec";
    }
    return ins.keyword + " in shell form runs /bin/sh -c" + pid1;
  };
  const Instruction* entrypoint =
      final_stage.entrypoint ? &dockerfile.instruction(*final_stage.entrypoint) : nullptr;
  const Instruction* cmd = final_stage.cmd ? &dockerfile.instruction(*final_stage.cmd) : nullptr;
  if (entrypoint != nullptr && !entrypoint->exec_form) {
    add(*final_stage.entrypoint, shell_form(*entrypoint) + ", and it ignores CMD and the arguments of docker run; " +
                                     exec_form_of(*entrypoint, escape));
    return;
  }
  if (entrypoint != nullptr && shell_stays_pid1(*entrypoint)) {
    add(*final_stage.entrypoint, "ENTRYPOINT runs several commands through a shell without exec, so the shell stays" +
                                     pid1 + "; start the last command with exec (\"...; exec /app/server\")");
  }
  if (cmd == nullptr) return;
  if (!cmd->exec_form && entrypoint != nullptr) {
    add(*final_stage.cmd,
        "CMD in shell form after an exec-form ENTRYPOINT: Docker turns it into [\"/bin/sh\", \"-c\", \"...\"] and "
        "hands those words to the ENTRYPOINT as its arguments, so the entrypoint is started with /bin/sh -c as "
        "arguments instead of the command; " +
            exec_form_of(*cmd, escape));
  } else if (!cmd->exec_form) {
    add(*final_stage.cmd, shell_form(*cmd) + "; " + exec_form_of(*cmd, escape));
  } else if (entrypoint == nullptr && shell_stays_pid1(*cmd)) {
    add(*final_stage.cmd, "CMD runs several commands through a shell without exec, so the shell stays" + pid1 +
                              "; start the last command with exec (\"...; exec /app/server\")");
  }
}

}  // namespace

const Rule& dockerfile_exec_form() {
  static const Rule kRule{
      .doc =
          {
              .id = "dockerfile-exec-form",
              .summary = "A shell-form ENTRYPOINT or CMD: /bin/sh is PID 1 and SIGTERM never reaches the app.",
              .description =
                  "Judges Dockerfiles: the ENTRYPOINT and CMD in force at the end of the final stage, inherited "
                  "through FROM <stage> (an ENTRYPOINT drops a CMD set before its stage, as in Docker). Fails on "
                  "a shell-form ENTRYPOINT (ENTRYPOINT /app/server), which also ignores CMD and the arguments of "
                  "docker run; on a shell-form CMD when there is no ENTRYPOINT (a leading exec makes the "
                  "application PID 1, but keeps the signal path one careless edit from breaking, so it fails "
                  "too); on a shell-form CMD after an exec-form ENTRYPOINT, which Docker turns into "
                  "[\"/bin/sh\", \"-c\", \"<text>\"] and hands to the entrypoint as arguments; and on an exec form "
                  "that runs several commands through sh -c (or bash, ash, dash, zsh) without exec, where the "
                  "shell stays PID 1 too. A Dockerfile that sets neither leaves the base image's in force and "
                  "passes. The message gives the exec form to write.",
              .rationale =
                  "The contract drains in-flight requests on SIGTERM within 30 s. With a shell as PID 1 the signal "
                  "stops at the shell, the application keeps serving until the grace period ends and is then "
                  "SIGKILLed mid-request; every rollout and node drain drops requests.",
              .remediation =
                  "Write ENTRYPOINT and CMD in exec form, a JSON array: CMD [\"/app/server\", \"--port\", "
                  "\"8080\"]. When shell syntax is needed, put it in a script that ends with exec \"$@\".",
          },
      .contract_action = Action::kWarn,
      .dockerfile_check = check_dockerfile,
  };
  return kRule;
}

}  // namespace podguard::rules

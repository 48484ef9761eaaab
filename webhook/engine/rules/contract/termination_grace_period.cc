// termination-grace-period: pods get at least minSeconds to drain after
// SIGTERM, and no preStop hook sleeps the whole grace period away.
//
// Reads spec.terminationGracePeriodSeconds (unset means the Kubernetes
// default, 30) and lifecycle.preStop of spec.containers and native sidecars:
// a `sleep` action (sleep.seconds), or an exec of `sleep N` directly or
// inside `sh -c "..."`. Fails when the grace period is below minSeconds, or
// when a preStop hook sleeps for as long as the grace period or longer.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"

namespace podguard::rules {
namespace {

constexpr std::int64_t kKubernetesDefaultGrace = 30;

// One GNU/busybox sleep operand: 5, 0.5, 10s, 2m, 1h, 1d, infinity.
std::optional<double> sleep_operand(std::string_view s) {
  if (s == "inf" || s == "infinity") return std::numeric_limits<double>::infinity();
  if (s.empty()) return std::nullopt;
  double scale = 1;
  switch (s.back()) {
    case 's':
      s.remove_suffix(1);
      break;
    case 'm':
      scale = 60;
      s.remove_suffix(1);
      break;
    case 'h':
      scale = 3600;
      s.remove_suffix(1);
      break;
    case 'd':
      scale = 86400;
      s.remove_suffix(1);
      break;
    default:
      break;
  }
  if (s.empty()) return std::nullopt;
  double value = 0;
  double fraction = 0.1;
  bool dot = false;
  for (char ch : s) {
    if (ch == '.' && !dot) {
      dot = true;
    } else if (ch >= '0' && ch <= '9') {
      if (dot) {
        value += (ch - '0') * fraction;
        fraction /= 10;
      } else {
        value = value * 10 + (ch - '0');
      }
    } else {
      return std::nullopt;
    }
  }
  return value * scale;
}

bool is_sleep_command(std::string_view word) {
  const auto slash = word.rfind('/');
  return (slash == std::string_view::npos ? word : word.substr(slash + 1)) == "sleep";
}

std::string_view basename(std::string_view word) {
  const auto slash = word.rfind('/');
  return slash == std::string_view::npos ? word : word.substr(slash + 1);
}

// Splits a shell script into words, with ";", "&", "|", "(", ")" and newlines
// as separate separator words. Quotes are removed; good enough to find
// `sleep N` in preStop one-liners.
std::vector<std::string> shell_words(std::string_view script) {
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char ch : script) {
    if (quote != 0) {
      if (ch == quote) {
        quote = 0;
      } else {
        word += ch;
      }
    } else if (ch == '\'' || ch == '"') {
      quote = ch;
    } else if (ch == ' ' || ch == '\t') {
      flush();
    } else if (ch == ';' || ch == '&' || ch == '|' || ch == '(' || ch == ')' || ch == '\n') {
      flush();
      words.emplace_back(1, ';');
    } else {
      word += ch;
    }
  }
  flush();
  return words;
}

// Total seconds slept by `sleep` commands among `words` (a command line or a
// split script); sequential sleeps add up.
double total_sleep(const std::vector<std::string>& words, std::size_t from) {
  double total = 0;
  for (std::size_t i = from; i < words.size(); ++i) {
    if (!is_sleep_command(words[i])) continue;
    for (std::size_t j = i + 1; j < words.size() && words[j] != ";"; ++j) {
      if (auto s = sleep_operand(words[j])) total += *s;
    }
  }
  return total;
}

// Seconds an exec preStop command sleeps: `sleep 10`, `/bin/sleep 10s`,
// `busybox sleep 10`, or a shell running a script that sleeps.
double exec_sleep(const Json* command) {
  std::vector<std::string> argv;
  for (const Json& a : json::items(command)) {
    if (a.is_string()) argv.push_back(a.get<std::string>());
  }
  if (argv.empty()) return 0;
  std::size_t first = 0;
  if (basename(argv[0]) == "busybox" && argv.size() > 1) first = 1;
  if (is_sleep_command(argv[first])) return total_sleep(argv, first);
  static constexpr std::string_view kShells[] = {"sh", "bash", "ash", "dash", "zsh", "ksh"};
  const std::string_view shell = basename(argv[first]);
  if (std::find(std::begin(kShells), std::end(kShells), shell) == std::end(kShells)) return 0;
  // `sh [options] -c SCRIPT [name args...]`: with -c (alone or among
  // combined short flags such as -ec), the first operand is the script.
  bool command_flag = false;
  for (std::size_t i = first + 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") continue;
    if (a.rfind("--", 0) == 0) {
      if (a == "--rcfile" || a == "--init-file") ++i;  // long options that take a value
      continue;
    }
    if (a.size() > 1 && (a[0] == '-' || a[0] == '+')) {
      if (a.find('c') != std::string::npos) command_flag = true;
      if (a.find('o') != std::string::npos) ++i;  // -o option-name
      continue;
    }
    return command_flag ? total_sleep(shell_words(a), 0) : 0;
  }
  return 0;
}

std::string seconds_text(double s) {
  if (std::isinf(s)) return "forever";
  if (s == std::floor(s)) return std::to_string(static_cast<std::int64_t>(s)) + "s";
  std::string t = std::to_string(s);
  t.erase(t.find_last_not_of('0') + 1);
  return t + "s";
}

void check(const PodView& pod, const RuleParams& params, Findings& out) {
  const std::int64_t min_seconds = params.value("minSeconds", kKubernetesDefaultGrace);
  const Json* grace_field = json::field(&pod.spec(), "terminationGracePeriodSeconds");
  const std::optional<std::int64_t> set_grace = json::as_int(grace_field);
  const std::int64_t grace = set_grace.value_or(kKubernetesDefaultGrace);
  const FieldPath grace_path = pod.spec_path().key("terminationGracePeriodSeconds");
  if (grace < min_seconds) {
    out.add(grace_path,
            (set_grace ? "terminationGracePeriodSeconds is " + std::to_string(grace)
                       : "terminationGracePeriodSeconds is not set, so Kubernetes uses " + std::to_string(grace)) +
                ", below the required " + std::to_string(min_seconds) +
                " to drain in-flight requests after SIGTERM; set terminationGracePeriodSeconds: " +
                std::to_string(min_seconds) + " or more");
  }

  for (const ContainerView& c : pod.containers()) {
    if (c.kind != ContainerKind::kRegular && !c.sidecar) continue;  // only these run lifecycle hooks
    const Json* pre_stop = json::field(c.spec, {"lifecycle", "preStop"});
    if (pre_stop == nullptr) continue;
    double slept = 0;
    std::string_view action, field;  // where the sleep is, under preStop
    if (auto s = json::as_int(json::field(pre_stop, {"sleep", "seconds"}))) {
      slept = static_cast<double>(*s);
      action = "sleep";
      field = "seconds";
    } else if (const Json* command = json::field(pre_stop, {"exec", "command"})) {
      slept = exec_sleep(command);
      action = "exec";
      field = "command";
    }
    if (slept > 0 && slept >= static_cast<double>(grace)) {
      out.add(
          &c, [&] { return pod.container_path(c).key("lifecycle").key("preStop").key(action).key(field); },
          [&] {
            return "the preStop hook sleeps " + seconds_text(slept) + ", the whole " + std::to_string(grace) +
                   "s grace period, leaving no time to drain after SIGTERM; sleep a few seconds (endpoints update "
                   "quickly) or raise terminationGracePeriodSeconds above the sleep";
          });
    }
  }
}

}  // namespace

const Rule& termination_grace_period() {
  static const Rule kRule{
      .doc =
          {
              .id = "termination-grace-period",
              .summary = "An effective termination grace period below minSeconds (30), or a preStop hook that "
                         "sleeps through it.",
              .description =
                  "Reads spec.terminationGracePeriodSeconds; unset means the Kubernetes default of 30 seconds. "
                  "Fails when it is below minSeconds. Also fails when a preStop hook of a container or native "
                  "sidecar sleeps for as long as the grace period or longer: a sleep action (sleep.seconds), an "
                  "exec of sleep N (also /bin/sleep, busybox sleep, durations such as 10s or 1m), or a shell "
                  "(sh -c, bash -c, ...) whose script runs sleep; sequential sleeps add up.",
              .rationale =
                  "The API drains in-flight requests on SIGTERM within 30 seconds. The kubelet sends SIGKILL when "
                  "the grace period ends, and the period includes the preStop hook: a shorter period or a hook "
                  "that sleeps it away cuts requests off mid-flight.",
              .remediation =
                  "Leave terminationGracePeriodSeconds unset or set it to 30 or more. Keep preStop sleeps short "
                  "(5 seconds is enough for endpoints to update), well under the grace period.",
              .params = {{.name = "minSeconds",
                          .type = ParamType::kInt,
                          .default_value = 30,
                          .description = "Smallest grace period accepted, in seconds.",
                          .min = 0,
                          .max = 31536000}},
          },
      .contract_action = Action::kDeny,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

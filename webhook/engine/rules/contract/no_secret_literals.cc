// no-secret-literals: secrets come from Secrets at runtime, never as
// literals in the spec.
//
// Reads env[*].name and env[*].value of every container (init, regular,
// ephemeral). Fails on a non-empty literal `value` (valueFrom is fine) whose
// name has a secret-like word, or whose value looks like a credential (PEM
// private key, AWS access key id, JWT, well-known token prefixes). Values
// made only of $(VAR) references hold no literal and pass, as do
// *_FILE/*_PATH/*_DIR variables that hold an absolute path (the secret is
// mounted there). The message never repeats the value.
#include "engine/reading/json_access.h"
#include "engine/rules/contract/contract_rules.h"
#include "engine/facts/secret_literals.h"

namespace podguard::rules {
namespace {

void check(const PodView& pod, const RuleParams&, Findings& out) {
  for (const ContainerView& c : pod.containers()) {
    const auto& env = json::items(json::field(c.spec, "env"));
    for (std::size_t i = 0; i < env.size(); ++i) {
      const Json* value = json::field(&env[i], "value");
      if (value == nullptr || value->is_null()) continue;
      // A number or boolean written where a string belongs is still a literal.
      const std::string text = value->is_string() ? value->get<std::string>() : std::string(value->dump());
      if (text.empty() || only_variable_references(text)) continue;
      const std::string_view name = json::as_string(json::field(&env[i], "name"));
      std::string why;
      if (auto kind = secret_like_value(text)) {
        why = "its value looks like " + std::string(*kind);
      } else if (secret_like_name(name) && !names_a_secret_file(name, text)) {
        why = "its name says it is a secret";
      } else {
        continue;
      }
      out.add(
          &c, [&] { return pod.container_path(c).key("env").index(i).key("value"); },
          [&] {
            return "env var \"" + std::string(name) + "\" has a literal value and " + why +
                   "; store it in a Secret and use valueFrom.secretKeyRef instead of value (and rotate it if it "
                   "was ever committed)";
          });
    }
  }
}

}  // namespace

const Rule& no_secret_literals() {
  static const Rule kRule{
      .doc =
          {
              .id = "no-secret-literals",
              .summary = "An environment variable holding a literal secret.",
              .description =
                  "Checks env of every container, init container and ephemeral container. A variable fails when "
                  "it has a non-empty literal value (valueFrom passes) and either its name contains a "
                  "secret-like word (PASSWORD, PASSWD, SECRET, TOKEN, API_KEY, APIKEY, PRIVATE_KEY, ACCESS_KEY, "
                  "CREDENTIAL, or their plurals) as whole words split on '_', '-', '.' and camelCase, so "
                  "JWT_EXPIRY_SECONDS passes and JWT_SECRET_KEY fails; or its value looks like a credential: a "
                  "PEM private key, an AWS access key id, a JWT, or a well-known token prefix (GitHub ghp_/"
                  "github_pat_, GitLab glpat-, Slack xox*-, Stripe sk_live_, Google AIza, npm_, hf_, sk-, SG.). "
                  "Values made only of $(VAR) references, and *_FILE, *_PATH or *_DIR variables holding an "
                  "absolute path, pass. Messages never repeat the value.",
              .rationale =
                  "A literal in a manifest lives in git history, in every rendered chart, in the API server's "
                  "etcd unencrypted as part of the pod spec, and in `kubectl get -o yaml` output for anyone with "
                  "read access. Secrets must come from the environment at runtime.",
              .remediation =
                  "Create a Secret and reference it with env[].valueFrom.secretKeyRef (or envFrom.secretRef), "
                  "and rotate any credential that was committed.",
          },
      .contract_action = Action::kDeny,
      .check = check,
  };
  return kRule;
}

}  // namespace podguard::rules

// Recognising secrets written as literals: names that say "secret" and values
// that look like credentials. Used by no-secret-literals (pod env) and
// image-secrets (Dockerfile ENV, ARG and LABEL), so both judge alike; kept
// apart so the detectors can be tested on their own.
//
// Pure functions over strings; safe from any number of threads.
#pragma once

#include <optional>
#include <string_view>

namespace podguard {

// True when the variable name contains a secret-like word (PASSWORD, PASSWD,
// SECRET, TOKEN, API_KEY, APIKEY, PRIVATE_KEY, ACCESS_KEY, CREDENTIAL, or a
// plural) as whole words: split on '_', '-', '.' and camelCase humps, compared
// case-insensitively. JWT_SECRET_KEY matches; JWT_EXPIRY_SECONDS does not.
bool secret_like_name(std::string_view name);

// What kind of credential the value looks like ("a PEM private key", "an AWS
// access key id", "a JWT", "a GitHub token", ...), or nullopt.
std::optional<std::string_view> secret_like_value(std::string_view value);

// True for a *_FILE, *_PATH or *_DIR variable holding an absolute path: the
// Docker secrets convention, where the secret is mounted at that path and
// the variable only says where.
bool names_a_secret_file(std::string_view name, std::string_view value);

// True when the value is nothing but Kubernetes $(VAR) references, which are
// expanded from other variables and hold no literal.
bool only_variable_references(std::string_view value);

}  // namespace podguard

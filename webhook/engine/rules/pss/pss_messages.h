// Message building shared by the Pod Security Standards checks, so every
// `pss.*` finding reads the same way:
//
//   <upstream reason>: <upstream-style detail for one offender>; <what to set instead>
//
// e.g. `host namespaces: hostNetwork=true; remove hostNetwork or set it to false`.
// The reason comes first and unchanged so that anyone matching on the
// upstream PodSecurity reasons (`privileged`, `runAsNonRoot != true`, ...)
// finds them. Stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/policy/rule.h"

namespace podguard::pss {

// `<reason>: <detail>; <remedy>`.
std::string message(std::string_view reason, std::string_view detail, std::string_view remedy);

// A value taken from the manifest, made safe to print: control characters
// are escaped and anything longer than 80 bytes is cut with "...". Manifests
// are user input, and messages end up in terminals, logs and API responses.
std::string printable(std::string_view value);

// `"value"`, with the value made printable.
std::string quote(std::string_view value);

// `"a", "b"` (upstream joinQuote); an empty list gives an empty string.
std::string join_quoted(const std::vector<std::string>& values);

// `a, b`, each value made printable.
std::string join(const std::vector<std::string>& values);

// `singular` when n is 1, else `plural`.
std::string_view pluralize(std::string_view singular, std::string_view plural, std::size_t n);

// Sorted (byte order, as upstream sorts) with duplicates removed.
std::vector<std::string> sorted_unique(std::vector<std::string> values);

// Who set a forbidden value: `pod`, or the container as describe() names it
// (`container "app"`, `init container "setup"`, ...).
std::string setter(const ContainerView* container);

// For a capability that is not allowed as written but would be under its
// canonical spelling (`chown`, `CAP_CHOWN`): the canonical name (`CHOWN`).
// Empty when the spelling is already canonical.
std::string canonical_capability(std::string_view capability);

}  // namespace podguard::pss

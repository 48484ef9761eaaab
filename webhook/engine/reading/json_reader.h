// JSON manifests with source positions: one value or a stream of values
// (`{...} {...}` as jq -c writes). Strict RFC 8259 otherwise: no comments,
// no trailing commas, strings must be valid UTF-8.
//
// nlohmann::json has no way to say where a value was in the text, and its
// SAX interface costs as much as its DOM parser, so this small recursive
// descent parser builds the same nlohmann values and records each key's and
// list item's position as it goes. Internal to the manifest reader.
//
// Stateless between calls; each call has its own parser, so calls on
// different threads do not interact.
#pragma once

#include <string_view>

#include "engine/base/status.h"
#include "engine/reading/read_options.h"

namespace podguard {

struct JsonReadResult {
  Status error;  // the syntax error that stopped the read; ok when none
  bool delivered = false;  // whether the sink received anything before the error
};

// Passes every complete value of `text` to `sink`, streaming List items when
// the sink wants them. Stops at the first syntax error.
JsonReadResult read_json(std::string_view text, const ReadLimits& limits, DocumentSink& sink);

// 3 when text starts with a UTF-8 byte order mark, else 0.
inline std::size_t utf8_bom_length(std::string_view text) {
  return text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
}

}  // namespace podguard

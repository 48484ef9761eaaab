// Turns manifest text (multi-document YAML, a JSON value or a stream of JSON
// values) into Documents that remember where each field came from.
//
// This is the one place where yaml-cpp and nlohmann parse errors are caught:
// callers get a ReadError with a line, a column and a plain sentence.
// Stateless; safe to call from several threads at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/document.h"

namespace podguard {

enum class InputFormat {
  kAuto,  // JSON when the text starts with '{' or '[' and parses as JSON, else YAML
  kYaml,
  kJson,
};

struct ReadError {
  std::string message;  // a sentence without the file name
  SourcePos pos;
};

struct ReadResult {
  // Every document that parsed completely, in order; empty and null
  // documents (a lone `---`) are left out.
  std::vector<Document> documents;
  // Set when the text stopped parsing; documents before the error are kept.
  std::optional<ReadError> error;
};

struct ReadLimits {
  // Nesting deeper than this is rejected rather than risking the stack.
  int max_depth = 256;
  // Nodes per document, counting copies made by YAML aliases, so that an
  // alias bomb is an error and not an out-of-memory kill.
  std::size_t max_nodes = 4'000'000;
};

ReadResult read_documents(std::string_view text, InputFormat format = InputFormat::kAuto,
                          const ReadLimits& limits = {});

}  // namespace podguard

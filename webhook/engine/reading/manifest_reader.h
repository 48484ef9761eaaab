// Turns manifest text (multi-document YAML, a JSON value or a stream of JSON
// values) into Documents that remember where each field came from.
//
// This is the one place where yaml-cpp and nlohmann parse errors are caught:
// callers get a Status with a line, a column and a plain sentence.
// Stateless; safe to call from several threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/reading/document.h"
#include "engine/reading/read_options.h"

namespace podguard {

struct ReadResult {
  ReadResult() = default;
  ReadResult(ReadResult&&) noexcept = default;
  ReadResult& operator=(ReadResult&& other) noexcept {
    drop_documents();
    arena = std::move(other.arena);
    documents = std::move(other.documents);
    error = std::move(other.error);
    return *this;
  }
  ~ReadResult() { drop_documents(); }

  // Holds the documents' nodes when read with ReadLimits::use_arena. Such
  // documents are dropped with the arena, not freed node by node, so nothing
  // may be added to them afterwards (it would leak).
  std::unique_ptr<NodeArena> arena;
  // Every document that parsed completely, in order; empty and null
  // documents (a lone `---`) are left out.
  std::vector<Document> documents;
  // Not ok when the text stopped parsing (an invalid-input or too-large
  // Status with the line and column); documents before the error are kept.
  Status error;

 private:
  // Before the arena goes: the documents' nodes may live in it.
  void drop_documents() noexcept {
    if (arena) {
      for (Document& doc : documents) doc.forget_arena_nodes();
    }
    documents.clear();
  }
};

ReadResult read_documents(std::string_view text, InputFormat format = InputFormat::kAuto,
                          const ReadLimits& limits = {});

// Reads `text` into `sink`; returns the syntax error that stopped it, if any
// (documents before it have been passed on).
Status read_documents(std::string_view text, InputFormat format, const ReadLimits& limits,
                                        DocumentSink& sink);

}  // namespace podguard

// Turns manifest text (multi-document YAML, a JSON value or a stream of JSON
// values) into Documents that remember where each field came from.
//
// This is the one place where yaml-cpp and nlohmann parse errors are caught:
// callers get a ReadError with a line, a column and a plain sentence.
// Stateless; safe to call from several threads at once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/reading/document.h"

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
  // Set when the text stopped parsing; documents before the error are kept.
  std::optional<ReadError> error;

 private:
  // Before the arena goes: the documents' nodes may live in it.
  void drop_documents() noexcept {
    if (arena) {
      for (Document& doc : documents) doc.forget_arena_nodes();
    }
    documents.clear();
  }
};

struct ReadLimits {
  // Nesting deeper than this is rejected rather than risking the stack.
  int max_depth = 256;
  // Nodes per document, counting copies made by YAML aliases, so that an
  // alias bomb is an error and not an out-of-memory kill.
  std::size_t max_nodes = 4'000'000;
  // Record where each field is (Document::positions). The webhook, which
  // reports field paths but no lines, turns this off: it is a third of the
  // cost of reading. Errors carry their position either way.
  bool record_positions = true;
  // Leave metadata.managedFields out of JSON documents. It is the API
  // server's record of which client set which field: no rule reads it, yet
  // in the objects the API server sends it is a fifth of the bytes and most
  // of the small values. It is still checked for syntax and counted against
  // max_nodes, but not built. The webhook turns this on; `podguard check`
  // keeps documents whole.
  bool drop_managed_fields = false;
  // In an AdmissionReview (a top-level "request"), also leave out what no
  // rule and no part of the decision reads: request.userInfo, .options,
  // .requestKind, .requestResource, and the "status" of request.object and
  // request.oldObject (on an UPDATE of a running pod, status is often the
  // largest part of both). Checked and counted like managedFields. The
  // webhook turns this on.
  bool drop_unread_review_fields = false;
  // Allocate the documents' nodes from one NodeArena owned by the
  // ReadResult (read_documents returning a ReadResult only): reading is
  // faster and freeing is almost free. For a caller that reads, judges and
  // drops the whole input at once; the webhook turns this on.
  bool use_arena = false;
};

ReadResult read_documents(std::string_view text, InputFormat format = InputFormat::kAuto,
                          const ReadLimits& limits = {});

// Receives documents as they are read, so a caller can process a large input
// without holding all of it.
class DocumentSink {
 public:
  virtual ~DocumentSink() = default;

  // A complete document (empty and null documents are not passed on).
  virtual void document(Document&& doc) = 0;

  // Streaming of top-level List items, for JSON input. When wants_items() is
  // true, the items of a top-level object's "items" list are passed one at a
  // time as they are parsed and freed after, so `kubectl get -o json` output
  // of any size needs memory for one item only. Whether the object is a List
  // shows only at its end (kubectl writes "items" before "kind"), so items
  // are provisional: end_items(true) confirms them (the document that follows
  // is the List with an empty items list); end_items(false) retracts them,
  // and the whole object follows as an ordinary document.
  virtual bool wants_items() const { return false; }
  virtual void begin_items() {}
  // `root` is items[i]; `positions` hold the item's fields under that root.
  virtual void item(const Json& item, const FieldPath& root, const SourceMap& positions) {
    (void)item;
    (void)root;
    (void)positions;
  }
  virtual void end_items(bool is_list) { (void)is_list; }
};

// Reads `text` into `sink`; returns the syntax error that stopped it, if any
// (documents before it have been passed on).
std::optional<ReadError> read_documents(std::string_view text, InputFormat format, const ReadLimits& limits,
                                        DocumentSink& sink);

}  // namespace podguard

// How manifest text is read (InputFormat, ReadLimits) and where streamed
// documents go (DocumentSink): shared by the manifest reader and the JSON
// and YAML readers under it, so those need not include each other.
//
// Plain options and an interface; a ReadLimits may be shared between
// threads reading at once.
#pragma once

#include <cstddef>

#include "engine/reading/document.h"
#include "engine/reading/skipped_fields.h"

namespace podguard {

enum class InputFormat {
  kAuto,  // JSON when the text starts with '{' or '[' and parses as JSON, else YAML
  kYaml,
  kJson,
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
  // Fields the caller never reads, left out of JSON documents (still
  // checked for syntax and counted against max_nodes, but not built); see
  // skipped_fields.h. nullptr keeps documents whole, as `podguard check`
  // does. The webhook passes what no rule reads of an AdmissionReview
  // (admission.h): metadata.managedFields, a fifth of the bytes of the
  // objects the API server sends, request.userInfo and the objects'
  // status. YAML documents are always read whole. Must outlive the read.
  const SkippedFields* skip = nullptr;
  // Allocate the documents' nodes from one NodeArena owned by the
  // ReadResult (read_documents returning a ReadResult only): reading is
  // faster and freeing is almost free. For a caller that reads, judges and
  // drops the whole input at once; the webhook turns this on.
  bool use_arena = false;
};

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

}  // namespace podguard

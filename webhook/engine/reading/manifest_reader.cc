#include "engine/reading/manifest_reader.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <istream>
#include <streambuf>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include "engine/reading/json_reader.h"
#include "engine/reading/object_builder.h"
#include "engine/reading/yaml_scalar.h"

namespace podguard {
namespace {

// Thrown by the builders; caught in read_documents and turned into a Status.
struct BuildError {
  std::string message;
  SourcePos pos;
};

// yaml-cpp's marks count columns in bytes; podguard's count characters
// (Unicode code points), as the JSON reader, editors and SARIF viewers do.
// Marks come mostly in increasing order, so each line is scanned once: the
// counter resumes from the last mark when it is further along the same line.
class ColumnCounter {
 public:
  explicit ColumnCounter(std::string_view text) : text_(text) {}

  SourcePos operator()(const YAML::Mark& m) {
    if (m.is_null()) return {};
    const auto pos = static_cast<std::size_t>(m.pos);
    const auto byte_column = static_cast<std::size_t>(m.column);
    if (m.pos < 0 || m.column < 0 || pos > text_.size() || byte_column > pos) return SourcePos{m.line + 1, m.column + 1};
    const std::size_t line_start = pos - byte_column;
    if (line_start != line_start_ || pos < byte_) {
      line_start_ = byte_ = line_start;
      chars_ = 0;
    }
    for (; byte_ < pos; ++byte_) {
      if ((static_cast<unsigned char>(text_[byte_]) & 0xC0) != 0x80) ++chars_;
    }
    return SourcePos{m.line + 1, static_cast<int>(chars_) + 1};
  }

 private:
  std::string_view text_;
  std::size_t line_start_ = 0;
  std::size_t byte_ = 0;   // where counting stopped
  std::size_t chars_ = 0;  // characters from line_start_ to byte_
};

// Reads a string_view through std::istream without copying it.
class MemoryBuffer : public std::streambuf {
 public:
  explicit MemoryBuffer(std::string_view text) {
    char* p = const_cast<char*>(text.data());  // the get area is never written
    setg(p, p, p + text.size());
  }
};

// Builds nlohmann::json from yaml-cpp parser events, recording the position
// of every map key and list item. Going through events instead of
// YAML::Load skips yaml-cpp's own node graph, which is most of its cost.
class YamlBuilder final : public YAML::EventHandler {
 public:
  // `builders` holds one ObjectBuilder per nesting level (max_depth + 1),
  // shared by the documents of a stream.
  YamlBuilder(const ReadLimits& limits, std::vector<ObjectBuilder>& builders, ColumnCounter& columns)
      : limits_(limits), builders_(builders), to_pos(columns) {}

  bool has_value() const { return has_value_; }
  Document take() {
    doc_.positions.finish();
    return std::move(doc_);
  }

  void OnDocumentStart(const YAML::Mark& mark) override { start_mark_ = mark; }
  void OnDocumentEnd() override {}

  // Where the document began in the stream. yaml-cpp 0.7 reports an empty
  // document at the same place forever when a stray ',' starts one; callers
  // compare marks to stop instead of looping.
  const YAML::Mark& start_mark() const { return start_mark_; }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (expecting_key()) throw BuildError{"a mapping key is empty", to_pos(mark)};
    place(Json(nullptr), mark, anchor, /*count=*/1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw BuildError{"alias refers to an unknown anchor", to_pos(mark)};
    if (expecting_key()) {
      if (!it->second.value.is_string()) {
        throw BuildError{"an alias used as a mapping key must refer to a string", to_pos(mark)};
      }
      set_key(it->second.value.get<std::string>(), mark, /*merge=*/false);
      return;
    }
    place(Json(it->second.value), mark, 0, it->second.nodes);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (expecting_key()) {
      const bool merge = tag == "?" && value == "<<";
      set_key(tag == "?" && !merge ? plain_key_as_kubectl_writes(value) : value, mark, merge);
      if (anchor != 0) anchors_[anchor] = Anchored{Json(value), 1};
      return;
    }
    Result<Json> resolved = resolve_yaml_scalar(tag, value);
    if (!resolved.ok()) throw BuildError{resolved.error().message(), to_pos(mark)};
    place(std::move(resolved).value(), mark, anchor, 1);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(Json::array(), mark, anchor, /*is_map=*/false);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(Json::object(), mark, anchor, /*is_map=*/true);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Anchored {
    Json value;
    std::size_t nodes = 1;
  };

  struct Frame {
    Json* node = nullptr;
    std::uint64_t hash = 0;
    bool is_map = false;
    bool has_key = false;
    bool key_is_merge = false;
    std::string key;
    SourcePos key_pos;
    std::size_t next_index = 0;
    YAML::anchor_t anchor = 0;
    std::size_t nodes_at_open = 0;
    std::vector<Json> merges;  // values of `<<` keys, applied when the map closes
    std::size_t depth = 0;     // index of this map's ObjectBuilder
  };

  bool expecting_key() const { return !stack_.empty() && stack_.back().is_map && !stack_.back().has_key; }

  void set_key(const std::string& key, const YAML::Mark& mark, bool merge) {
    Frame& f = stack_.back();
    if (!f.merges.empty()) apply_merges(f);
    f.key = key;
    f.key_pos = to_pos(mark);
    f.has_key = true;
    f.key_is_merge = merge;
  }

  void count(std::size_t n, const YAML::Mark& mark) {
    nodes_ += n;
    if (nodes_ > limits_.max_nodes) {
      throw BuildError{"document has more than " + std::to_string(limits_.max_nodes) +
                           " nodes once aliases are expanded",
                       to_pos(mark)};
    }
  }

  // Puts `value` where the parser is now; returns it and its path hash.
  std::pair<Json*, std::uint64_t> place(Json&& value, const YAML::Mark& mark, YAML::anchor_t anchor,
                                        std::size_t nodes) {
    count(nodes, mark);
    if (anchor != 0 && !value.is_structured()) anchors_[anchor] = Anchored{value, nodes};
    if (stack_.empty()) {
      if (has_value_) throw BuildError{"more than one value at the top of a document", to_pos(mark)};
      has_value_ = true;
      doc_.value = std::move(value);
      doc_.start = to_pos(mark);
      if (limits_.record_positions) doc_.positions.record(path_hash::kRoot, doc_.start);
      return {&doc_.value, path_hash::kRoot};
    }
    Frame& f = stack_.back();
    if (!f.is_map) {
      const std::uint64_t h = path_hash::index(f.hash, f.next_index++);
      if (limits_.record_positions) doc_.positions.record(h, to_pos(mark));
      f.node->get_ref<Json::array_t&>().push_back(std::move(value));
      return {&f.node->back(), h};
    }
    f.has_key = false;
    if (f.key_is_merge) {
      f.merges.push_back(std::move(value));
      return {&f.merges.back(), 0};
    }
    const std::uint64_t h = path_hash::key(f.hash, f.key);
    Json* inserted = builders_[f.depth].add(JsonString(f.key), std::move(value));
    if (inserted == nullptr) throw BuildError{"duplicate key \"" + f.key + "\"", f.key_pos};
    if (limits_.record_positions) doc_.positions.record(h, f.key_pos);
    return {inserted, h};
  }

  void open(Json&& empty, const YAML::Mark& mark, YAML::anchor_t anchor, bool is_map) {
    if (expecting_key()) throw BuildError{"complex mapping keys are not supported", to_pos(mark)};
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      throw BuildError{"nesting is deeper than " + std::to_string(limits_.max_depth) + " levels",
                       to_pos(mark)};
    }
    const std::size_t before = nodes_;
    auto [node, hash] = place(std::move(empty), mark, 0, 1);
    Frame f;
    f.node = node;
    f.hash = hash;
    f.is_map = is_map;
    f.anchor = anchor;
    f.nodes_at_open = before;
    f.depth = stack_.size();
    if (is_map) {
      while (builders_.size() <= f.depth) builders_.emplace_back();  // within the reserved capacity
      builders_[f.depth].clear();
    }
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame& f = stack_.back();
    if (f.is_map) {
      if (!f.merges.empty()) apply_merges(f);
      builders_[f.depth].finish_into(*f.node);
    }
    if (f.anchor != 0) anchors_[f.anchor] = Anchored{*f.node, nodes_ - f.nodes_at_open};
    stack_.pop_back();
  }

  // YAML merge keys (`<<: *defaults`, `<<: [*a, *b]`), applied as kubectl's
  // YAML library (go-yaml v2, through sigs.k8s.io/yaml) applies them: where
  // the merge is written, over the keys before it; keys after it win over
  // it; in a list, earlier maps win over later ones. (YAML's merge spec lets
  // keys written in the map win wherever they are; kubectl does not, and
  // kubectl's object is the one the API server and the webhook see.)
  // Called before the map's next key and when it closes, once the merged
  // value is complete.
  void apply_merges(Frame& f) {
    ObjectBuilder& members = builders_[f.depth];
    auto merge_one = [&members](const Json& source) {
      if (!source.is_object()) return false;
      for (const auto& [k, v] : source.items()) members.merge(k, v);
      return true;
    };
    for (const Json& m : f.merges) {
      if (m.is_array()) {
        for (auto item = m.rbegin(); item != m.rend(); ++item) {
          if (!merge_one(*item)) throw BuildError{"a merge key (<<) must refer to maps", f.key_pos};
        }
      } else if (!merge_one(m)) {
        throw BuildError{"a merge key (<<) must refer to a map", f.key_pos};
      }
    }
    f.merges.clear();
  }

  const ReadLimits& limits_;
  std::vector<ObjectBuilder>& builders_;
  ColumnCounter& to_pos;  // a function object, named like one
  Document doc_;
  bool has_value_ = false;
  YAML::Mark start_mark_ = YAML::Mark::null_mark();
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::size_t nodes_ = 0;
};

Status read_yaml(std::string_view text, const ReadLimits& limits, DocumentSink& sink) {
  MemoryBuffer buffer(text);
  std::istream in(&buffer);
  ColumnCounter to_pos(text);
  try {
    YAML::Parser parser(in);
    std::vector<ObjectBuilder> builders;
    builders.reserve(static_cast<std::size_t>(std::max(limits.max_depth, 0)) + 1);
    int last_start = -1;
    while (true) {
      YamlBuilder builder(limits, builders, to_pos);
      if (!parser.HandleNextDocument(builder)) break;
      if (builder.start_mark().pos == last_start) {
        return Status::invalid_input("unexpected ',' outside a flow collection ([...] or {...})")
            .at(to_pos(builder.start_mark()));
      }
      last_start = builder.start_mark().pos;
      if (builder.has_value()) {
        Document doc = builder.take();
        if (!doc.value.is_null()) sink.document(std::move(doc));
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::invalid_input(e.msg).at(to_pos(e.mark));
  } catch (const BuildError& e) {
    return Status::invalid_input(e.message).at(e.pos);
  }
  return Status();
}

// Keeps documents in a vector: for read_documents' vector form, and to hold
// a YAML fallback until it is known to succeed.
class CollectingSink final : public DocumentSink {
 public:
  void document(Document&& doc) override { documents.push_back(std::move(doc)); }
  std::vector<Document> documents;
};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool looks_like_json(std::string_view text) {
  for (std::size_t i = utf8_bom_length(text); i < text.size(); ++i) {
    if (is_json_space(text[i])) continue;
    return text[i] == '{' || text[i] == '[';
  }
  return false;
}

}  // namespace

Status read_documents(std::string_view text, InputFormat format, const ReadLimits& limits, DocumentSink& sink) {
  if (format == InputFormat::kYaml || (format == InputFormat::kAuto && !looks_like_json(text))) {
    return read_yaml(text, limits, sink);
  }
  JsonReadResult json = read_json(text, limits, sink);
  if (json.error.ok() || format == InputFormat::kJson || json.delivered) return json.error;
  // A YAML flow mapping also starts with '{'. Try YAML only when JSON failed
  // before delivering anything; keep the JSON error if YAML fails too, since
  // the text looked like JSON.
  CollectingSink as_yaml;
  if (!read_yaml(text, limits, as_yaml).ok()) return json.error;
  for (Document& doc : as_yaml.documents) sink.document(std::move(doc));
  return Status();
}

ReadResult read_documents(std::string_view text, InputFormat format, const ReadLimits& limits) {
  ReadResult out;
  std::optional<NodeArenaScope> scope;
  if (limits.use_arena) {
    out.arena = std::make_unique<NodeArena>();
    scope.emplace(*out.arena);
  }
  CollectingSink sink;
  out.error = read_documents(text, format, limits, sink);
  out.documents = std::move(sink.documents);
  return out;
}

}  // namespace podguard

#include "engine/manifest_reader.h"

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

#include "engine/yaml_scalar.h"

namespace podguard {
namespace {

// Thrown by the builders; caught in read_documents and turned into a ReadError.
struct BuildError {
  std::string message;
  SourcePos pos;
};

SourcePos to_pos(const YAML::Mark& m) {
  if (m.is_null()) return {};
  return SourcePos{m.line + 1, m.column + 1};
}

// Keys of one object under construction. Objects keep their keys in order
// (Json is nlohmann::ordered_json), so a duplicate check is a scan; past a
// few dozen keys a hash set takes over, so a hostile object with a hundred
// thousand keys costs linear time, not quadratic.
class KeyIndex {
 public:
  // Appends key -> value unless the key is there; returns the new value, or
  // nullptr for a duplicate.
  Json* insert(Json::object_t& object, std::string&& key, Json&& value) {
    if (seen_.empty()) {
      for (const auto& entry : object) {
        if (entry.first == key) return nullptr;
      }
      if (object.size() >= kScanLimit) {
        for (const auto& entry : object) seen_.insert(entry.first);
      }
    }
    if (!seen_.empty() && !seen_.insert(key).second) return nullptr;
    object.emplace_back(std::move(key), std::move(value));  // std::vector::emplace_back: no second scan
    return &object.back().second;
  }

 private:
  static constexpr std::size_t kScanLimit = 32;
  std::unordered_set<std::string> seen_;
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
  explicit YamlBuilder(const ReadLimits& limits) : limits_(limits) {}

  bool has_value() const { return has_value_; }
  Document take() {
    doc_.positions.finish();
    return std::move(doc_);
  }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

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
      set_key(value, mark, /*merge=*/tag == "?" && value == "<<");
      if (anchor != 0) anchors_[anchor] = Anchored{Json(value), 1};
      return;
    }
    std::string error;
    Json resolved = resolve_yaml_scalar(tag, value, error);
    if (!error.empty()) throw BuildError{error, to_pos(mark)};
    place(std::move(resolved), mark, anchor, 1);
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
    KeyIndex keys;
  };

  bool expecting_key() const { return !stack_.empty() && stack_.back().is_map && !stack_.back().has_key; }

  void set_key(const std::string& key, const YAML::Mark& mark, bool merge) {
    Frame& f = stack_.back();
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
      doc_.positions.record(path_hash::kRoot, doc_.start);
      return {&doc_.value, path_hash::kRoot};
    }
    Frame& f = stack_.back();
    if (!f.is_map) {
      const std::uint64_t h = path_hash::index(f.hash, f.next_index++);
      doc_.positions.record(h, to_pos(mark));
      f.node->get_ref<Json::array_t&>().push_back(std::move(value));
      return {&f.node->back(), h};
    }
    f.has_key = false;
    if (f.key_is_merge) {
      f.merges.push_back(std::move(value));
      return {&f.merges.back(), 0};
    }
    const std::uint64_t h = path_hash::key(f.hash, f.key);
    Json* inserted = f.keys.insert(f.node->get_ref<Json::object_t&>(), std::string(f.key), std::move(value));
    if (inserted == nullptr) throw BuildError{"duplicate key \"" + f.key + "\"", f.key_pos};
    doc_.positions.record(h, f.key_pos);
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
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame& f = stack_.back();
    if (f.is_map && !f.merges.empty()) apply_merges(f);
    if (f.anchor != 0) anchors_[f.anchor] = Anchored{*f.node, nodes_ - f.nodes_at_open};
    stack_.pop_back();
  }

  // YAML merge keys (`<<: *defaults`): keys written in the map win over
  // merged ones, and earlier merge sources win over later ones.
  static void apply_merges(Frame& f) {
    auto& object = f.node->get_ref<Json::object_t&>();
    auto merge_one = [&object, &f](const Json& source) {
      if (!source.is_object()) return false;
      for (const auto& [k, v] : source.items()) f.keys.insert(object, std::string(k), Json(v));
      return true;
    };
    for (const Json& m : f.merges) {
      if (m.is_array()) {
        for (const Json& item : m) {
          if (!merge_one(item)) throw BuildError{"a merge key (<<) must refer to maps", f.key_pos};
        }
      } else if (!merge_one(m)) {
        throw BuildError{"a merge key (<<) must refer to a map", f.key_pos};
      }
    }
  }

  const ReadLimits& limits_;
  Document doc_;
  bool has_value_ = false;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Anchored> anchors_;
  std::size_t nodes_ = 0;
};

void read_yaml(std::string_view text, const ReadLimits& limits, ReadResult& out) {
  MemoryBuffer buffer(text);
  std::istream in(&buffer);
  try {
    YAML::Parser parser(in);
    while (true) {
      YamlBuilder builder(limits);
      if (!parser.HandleNextDocument(builder)) break;
      if (builder.has_value()) {
        Document doc = builder.take();
        if (!doc.value.is_null()) out.documents.push_back(std::move(doc));
      }
    }
  } catch (const YAML::Exception& e) {
    out.error = ReadError{e.msg, to_pos(e.mark)};
  } catch (const BuildError& e) {
    out.error = ReadError{e.message, e.pos};
  }
}

// Converts byte offsets to line and column as the parser moves forward.
// Columns count characters (UTF-8 continuation bytes are skipped), which is
// what yaml-cpp reports too.
class LineCounter {
 public:
  explicit LineCounter(std::string_view text) : text_(text) {}

  SourcePos at(std::size_t offset) {
    if (offset < offset_) {  // never happens while parsing forward; stay correct anyway
      offset_ = 0;
      line_ = 1;
      column_ = 1;
    }
    offset = std::min(offset, text_.size());
    const char* p = text_.data() + offset_;
    const char* end = text_.data() + offset;
    // Jump from newline to newline; count characters only on the last line.
    while (const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
      ++line_;
      column_ = 1;
      p = static_cast<const char*>(nl) + 1;
    }
    for (; p < end; ++p) {
      if ((static_cast<unsigned char>(*p) & 0xC0) != 0x80) ++column_;
    }
    offset_ = offset;
    return SourcePos{line_, column_};
  }

 private:
  std::string_view text_;
  std::size_t offset_ = 0;
  int line_ = 1;
  int column_ = 1;
};

// An input iterator over the text that publishes how far nlohmann's lexer
// has read, so SAX events can be given source positions.
class TrackingIterator {
 public:
  using iterator_category = std::input_iterator_tag;
  using value_type = char;
  using difference_type = std::ptrdiff_t;
  using pointer = const char*;
  using reference = const char&;

  TrackingIterator(const char* p, const char** probe) : p_(p), probe_(probe) {}
  reference operator*() const { return *p_; }
  TrackingIterator& operator++() {
    *probe_ = ++p_;
    return *this;
  }
  TrackingIterator operator++(int) {
    TrackingIterator old = *this;
    ++*this;
    return old;
  }
  bool operator==(const TrackingIterator& o) const { return p_ == o.p_; }
  bool operator!=(const TrackingIterator& o) const { return p_ != o.p_; }

 private:
  const char* p_;
  const char** probe_;
};

// nlohmann SAX handler building the same Document shape as YamlBuilder.
class JsonBuilder {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  JsonBuilder(std::string_view text, const char** probe, LineCounter& lines, const ReadLimits& limits)
      : text_(text), probe_(probe), lines_(lines), limits_(limits) {}

  bool null() { return scalar(Json(nullptr)); }
  bool boolean(bool v) { return scalar(Json(v)); }
  bool number_integer(number_integer_t v) { return scalar(Json(v)); }
  bool number_unsigned(number_unsigned_t v) { return scalar(Json(v)); }
  bool number_float(number_float_t v, const string_t&) { return scalar(Json(v)); }
  bool string(string_t& v) { return scalar(Json(std::move(v)), /*is_string=*/true); }
  bool binary(binary_t&) { return fail("binary values are not supported"); }

  bool start_object(std::size_t) { return open(Json::object(), true); }
  bool start_array(std::size_t) { return open(Json::array(), false); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(string_t& k) {
    Frame& f = stack_.back();
    f.key = std::move(k);
    f.key_pos = lines_.at(string_start());
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    std::string what = ex.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: syntax error ..."
    if (auto colon = what.find(": "); what.rfind("[json.exception", 0) == 0 && colon != std::string::npos) {
      what = what.substr(colon + 2);
    }
    error_ = ReadError{what, lines_.at(last_token_char())};
    return false;
  }

  bool has_value() const { return has_value_; }
  Document take() {
    doc_.positions.finish();
    return std::move(doc_);
  }
  std::optional<ReadError>& error() { return error_; }

 private:
  struct Frame {
    Json* node = nullptr;
    std::uint64_t hash = 0;
    bool is_map = false;
    std::string key;
    SourcePos key_pos;
    std::size_t next_index = 0;
    KeyIndex keys;
  };

  std::size_t consumed() const { return static_cast<std::size_t>(*probe_ - text_.data()); }

  // The last non-blank character the lexer read: where a syntax error is,
  // rather than the newline it read to find out.
  std::size_t last_token_char() const {
    std::size_t i = consumed();
    while (i > 0 && is_blank(text_[i - 1])) --i;
    return i == 0 ? 0 : i - 1;
  }

  static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

  // The lexer has just read the closing quote of a string; walk back to its
  // opening quote (one not escaped by an odd run of backslashes).
  std::size_t string_start() const {
    std::size_t i = consumed();
    if (i < 2) return 0;
    i -= 2;  // last character inside the quotes
    while (i > 0) {
      if (text_[i] == '"') {
        std::size_t slashes = 0;
        while (i > slashes && text_[i - 1 - slashes] == '\\') ++slashes;
        if (slashes % 2 == 0) return i;
      }
      --i;
    }
    return 0;
  }

  // Start of the literal (number, true, false, null) the lexer just read;
  // the lexer may have read one character past it.
  std::size_t literal_start() const {
    auto is_literal = [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
             c == '+' || c == '.';
    };
    std::size_t e = consumed();
    while (e > 0 && !is_literal(text_[e - 1])) --e;
    std::size_t s = e;
    while (s > 0 && is_literal(text_[s - 1])) --s;
    return s;
  }

  bool fail(std::string message) {
    error_ = ReadError{std::move(message), lines_.at(consumed())};
    return false;
  }

  Json* place(Json&& value, std::size_t start_offset, std::uint64_t& hash) {
    if (++nodes_ > limits_.max_nodes) {
      fail("document has more than " + std::to_string(limits_.max_nodes) + " nodes");
      return nullptr;
    }
    if (stack_.empty()) {
      has_value_ = true;
      doc_.value = std::move(value);
      doc_.start = lines_.at(start_offset);
      doc_.positions.record(path_hash::kRoot, doc_.start);
      hash = path_hash::kRoot;
      return &doc_.value;
    }
    Frame& f = stack_.back();
    if (!f.is_map) {
      hash = path_hash::index(f.hash, f.next_index++);
      doc_.positions.record(hash, lines_.at(start_offset));
      f.node->get_ref<Json::array_t&>().push_back(std::move(value));
      return &f.node->back();
    }
    hash = path_hash::key(f.hash, f.key);
    Json* inserted = f.keys.insert(f.node->get_ref<Json::object_t&>(), std::string(f.key), std::move(value));
    if (inserted == nullptr) {
      error_ = ReadError{"duplicate key \"" + f.key + "\"", f.key_pos};
      return nullptr;
    }
    doc_.positions.record(hash, f.key_pos);
    return inserted;
  }

  bool scalar(Json&& value, bool is_string = false) {
    // Only list items and top-level values need their own start; map values
    // are located by their key.
    const bool needs_start = stack_.empty() || !stack_.back().is_map;
    std::size_t start = 0;
    if (needs_start) start = is_string ? string_start() : literal_start();
    std::uint64_t hash = 0;
    return place(std::move(value), start, hash) != nullptr;
  }

  bool open(Json&& empty, bool is_map) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      return fail("nesting is deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    std::uint64_t hash = 0;
    const std::size_t start = consumed() == 0 ? 0 : consumed() - 1;  // the '{' or '[' just read
    Json* node = place(std::move(empty), start, hash);
    if (node == nullptr) return false;
    Frame f;
    f.node = node;
    f.hash = hash;
    f.is_map = is_map;
    stack_.push_back(std::move(f));
    return true;
  }

  bool close() {
    stack_.pop_back();
    return true;
  }

  std::string_view text_;
  const char** probe_;
  LineCounter& lines_;
  const ReadLimits& limits_;
  Document doc_;
  bool has_value_ = false;
  std::vector<Frame> stack_;
  std::size_t nodes_ = 0;
  std::optional<ReadError> error_;
};

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_bom(std::string_view text) {
  return text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
}

// Reads one JSON value or a stream of them (`{...} {...}`, as jq -c writes).
void read_json(std::string_view text, const ReadLimits& limits, ReadResult& out) {
  LineCounter lines(text);
  const char* end = text.data() + text.size();
  const char* cursor = text.data() + skip_bom(text);
  while (true) {
    while (cursor != end && is_json_space(*cursor)) ++cursor;
    if (cursor == end) return;
    const char* probe = cursor;
    JsonBuilder builder(text, &probe, lines, limits);
    bool ok = false;
    try {
      ok = Json::sax_parse(TrackingIterator(cursor, &probe), TrackingIterator(end, &probe), &builder,
                           Json::input_format_t::json, /*strict=*/false);
    } catch (const Json::exception& e) {  // not expected from sax_parse; be safe
      builder.error() = ReadError{e.what(), lines.at(static_cast<std::size_t>(probe - text.data()))};
    }
    if (!ok || builder.error()) {
      out.error = builder.error().value_or(
          ReadError{"invalid JSON", lines.at(static_cast<std::size_t>(probe - text.data()))});
      return;
    }
    if (builder.has_value()) {
      Document doc = builder.take();
      if (!doc.value.is_null()) out.documents.push_back(std::move(doc));
    }
    if (probe == cursor) return;  // nothing consumed: cannot make progress
    cursor = probe;
  }
}

bool looks_like_json(std::string_view text) {
  for (std::size_t i = skip_bom(text); i < text.size(); ++i) {
    if (is_json_space(text[i])) continue;
    return text[i] == '{' || text[i] == '[';
  }
  return false;
}

}  // namespace

ReadResult read_documents(std::string_view text, InputFormat format, const ReadLimits& limits) {
  ReadResult out;
  if (format == InputFormat::kJson) {
    read_json(text, limits, out);
  } else if (format == InputFormat::kYaml || !looks_like_json(text)) {
    read_yaml(text, limits, out);
  } else {
    read_json(text, limits, out);
    if (out.error) {
      // A YAML flow mapping also starts with '{'; keep the JSON error when
      // the text is not YAML either, since it looked like JSON.
      ReadResult as_yaml;
      read_yaml(text, limits, as_yaml);
      if (!as_yaml.error) out = std::move(as_yaml);
    }
  }
  return out;
}

}  // namespace podguard

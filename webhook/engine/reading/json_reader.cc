#include "engine/reading/json_reader.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "engine/reading/object_builder.h"

namespace podguard {
namespace {

struct SyntaxError {
  std::string message;
  const char* at;
};

// Converts byte offsets to line and column as the parser moves forward.
// Columns count characters (UTF-8 continuation bytes are skipped), as
// yaml-cpp does for YAML.
class LineCounter {
 public:
  explicit LineCounter(std::string_view text) : text_(text) {}

  SourcePos at(std::size_t offset) {
    if (offset < offset_) {  // only for an error behind the cursor; restart
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

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0.
std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  auto cont = [&](std::size_t i) { return p + i < end && (p[i] & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[1] < 0xA0) return 0;   // overlong
    if (c == 0xED && p[1] >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[1] >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void append_utf8(JsonString& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool ends_with_list(std::string_view kind) { return kind.size() >= 4 && kind.substr(kind.size() - 4) == "List"; }

class JsonParser {
 public:
  JsonParser(std::string_view text, const ReadLimits& limits, DocumentSink* item_sink)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        lines_(text),
        limits_(limits),
        item_sink_(item_sink),
        skips_(limits.skip) {
    // Reserved, not constructed: builders are made as depth is reached, and
    // references to them stay valid since the vector never reallocates.
    builders_.reserve(static_cast<std::size_t>(std::max(limits.max_depth, 0)) + 1);
    item_builders_.reserve(static_cast<std::size_t>(std::max(limits.max_depth, 0)) + 1);
  }

  // Parses the next top-level value into `doc`; false when only white space
  // is left. Throws SyntaxError. With an item sink, a top-level object's
  // items are streamed to it (see DocumentSink); when the object turns out
  // not to be a List, the items are retracted and it is parsed again whole.
  bool next(Document& doc) {
    if (p_ == begin_) p_ += utf8_bom_length(std::string_view(begin_, static_cast<std::size_t>(end_ - begin_)));
    skip_space();
    if (p_ == end_) return false;
    const char* start = p_;
    try {
      parse_document(doc, item_sink_);
    } catch (const SyntaxError&) {
      if (streamed_) item_sink_->end_items(false);  // a broken document yields nothing, as in YAML
      throw;
    }
    if (streamed_) {
      const Json* kind = doc.value.is_object() ? &doc.value["kind"] : nullptr;
      const bool is_list = kind != nullptr && kind->is_string() && ends_with_list(kind->get<std::string>());
      item_sink_->end_items(is_list);
      if (!is_list) {
        p_ = start;
        doc = Document();
        parse_document(doc, nullptr);
      }
    }
    return true;
  }

  SourcePos pos(const char* at) { return lines_.at(static_cast<std::size_t>(at - begin_)); }

 private:
  void parse_document(Document& doc, DocumentSink* stream_to) {
    streaming_ = stream_to;
    streamed_ = false;
    positions_ = limits_.record_positions ? &doc.positions : nullptr;
    nodes_ = 0;
    skip_state_ = skips_ != nullptr ? skips_->root() : 0;
    if (positions_ != nullptr) {
      doc.start = pos(p_);
      doc.positions.record(path_hash::kRoot, doc.start);
    }
    value(doc.value, path_hash::kRoot, 0);
    doc.positions.finish();
  }

  // The items of a top-level "items" list, one at a time, each with its own
  // source map and node budget; `slot` keeps an empty list.
  void stream_items(Json& slot, std::uint64_t items_hash) {
    streamed_ = true;
    streaming_->begin_items();
    slot = Json::array();
    if (open_empty(']')) return;
    SourceMap* document_positions = positions_;
    const std::size_t document_nodes = nodes_;
    for (std::size_t i = 0;; ++i) {
      Json item;
      SourceMap item_positions;
      if (document_positions != nullptr) positions_ = &item_positions;
      nodes_ = 0;
      const std::uint64_t child = path_hash::index(items_hash, i);
      if (positions_ != nullptr) item_positions.record(child, pos(p_));
      value(item, child, 2);
      item_positions.finish();
      streaming_->item(item, FieldPath().key("items").index(i), item_positions);
      if (!more(']', "',' or ']' after a list item")) break;
    }
    positions_ = document_positions;
    nodes_ = document_nodes;
  }

  [[noreturn]] void fail(std::string message, const char* at) { throw SyntaxError{std::move(message), at}; }

  [[noreturn]] void unexpected(const char* what_was_expected) {
    if (p_ == end_) fail(std::string("unexpected end of input; expected ") + what_was_expected, p_);
    const auto c = static_cast<unsigned char>(*p_);
    std::string shown;
    if (c >= 0x20 && c < 0x7F) {
      shown = std::string("'") + static_cast<char>(c) + "'";
    } else {
      static const char* kHex = "0123456789abcdef";
      shown = std::string("byte 0x") + kHex[c >> 4] + kHex[c & 15];
    }
    fail("unexpected " + shown + "; expected " + what_was_expected, p_);
  }

  void skip_space() {
    while (p_ != end_ && is_space(*p_)) ++p_;
  }

  // At the opening bracket: steps past it and returns true when the
  // collection is empty ("{}", "[ ]").
  bool open_empty(char close) {
    ++p_;
    skip_space();
    if (p_ != end_ && *p_ == close) {
      ++p_;
      return true;
    }
    return false;
  }

  // After a member or item: true when a ',' says another follows, false
  // after the closing bracket.
  bool more(char close, const char* expected) {
    skip_space();
    if (p_ != end_ && *p_ == ',') {
      ++p_;
      skip_space();
      return true;
    }
    if (p_ != end_ && *p_ == close) {
      ++p_;
      return false;
    }
    unexpected(expected);
  }

  void count() {
    if (++nodes_ > limits_.max_nodes) {
      fail("document has more than " + std::to_string(limits_.max_nodes) + " nodes", p_);
    }
  }

  void value(Json& out, std::uint64_t hash, int depth) {
    count();
    if (p_ == end_) unexpected("a value");
    switch (*p_) {
      case '{':
        object(out, hash, depth);
        return;
      case '[':
        array(out, hash, depth);
        return;
      case '"':
        out = string();
        return;
      case 't':
        literal("true", Json(true), out);
        return;
      case 'f':
        literal("false", Json(false), out);
        return;
      case 'n':
        literal("null", Json(nullptr), out);
        return;
      default:
        if (*p_ == '-' || is_digit(*p_)) {
          number(out);
          return;
        }
        unexpected("a value");
    }
  }

  void enter(int depth) {
    if (depth >= limits_.max_depth) {
      fail("nesting is deeper than " + std::to_string(limits_.max_depth) + " levels", p_);
    }
  }

  void object(Json& out, std::uint64_t hash, int depth) {
    enter(depth);
    if (open_empty('}')) {
      out = Json::object();
      return;
    }
    // One builder per depth, reused from object to object.
    while (builders_.size() <= static_cast<std::size_t>(depth)) builders_.emplace_back();
    ObjectBuilder& members = builders_[static_cast<std::size_t>(depth)];
    // Which skipped-field patterns may match this object's keys. Array
    // items are transparent: they keep their array's candidates.
    const SkippedFields::State members_skips = skip_state_;
    do {
      if (p_ == end_ || *p_ != '"') unexpected("a string key");
      const char* key_at = p_;
      JsonString key = string();
      skip_space();
      if (p_ == end_ || *p_ != ':') unexpected("':' after an object key");
      ++p_;
      skip_space();
      SkippedFields::State child_skips = 0;
      if (skips_ != nullptr) {
        const SkippedFields::Step step = skips_->member(members_skips, std::string_view(key));
        if (step.skip) {
          skip(depth + 1);
          continue;
        }
        child_skips = step.next;
      }
      const std::uint64_t child = positions_ != nullptr ? path_hash::key(hash, key) : 0;
      if (positions_ != nullptr) positions_->record(child, pos(key_at));
      const bool stream = depth == 0 && streaming_ != nullptr && key == "items" && p_ != end_ && *p_ == '[';
      Json* slot = members.add(std::move(key));  // leaves `key` alone on a duplicate
      if (slot == nullptr) {
        members.clear();
        fail("duplicate key \"" + std::string(key) + "\"", key_at);
      }
      skip_state_ = child_skips;
      if (stream) {
        count();
        stream_items(*slot, child);
      } else {
        value(*slot, child, depth + 1);
      }
    } while (more('}', "',' or '}' after an object member"));
    skip_state_ = members_skips;
    members.finish_into(out);
  }

  void array(Json& out, std::uint64_t hash, int depth) {
    enter(depth);
    if (open_empty(']')) {
      out = Json::array();
      return;
    }
    // Items are gathered in a vector kept per depth and moved into an array
    // reserved to size: one allocation per array instead of one per
    // doubling. (Arrays nested in these items are deeper: other vectors.)
    while (item_builders_.size() <= static_cast<std::size_t>(depth)) item_builders_.emplace_back();
    std::vector<Json>& items = item_builders_[static_cast<std::size_t>(depth)];
    items.clear();
    std::size_t i = 0;
    do {
      const std::uint64_t child = positions_ != nullptr ? path_hash::index(hash, i) : 0;
      ++i;
      if (positions_ != nullptr) positions_->record(child, pos(p_));
      items.emplace_back();
      value(items.back(), child, depth + 1);
    } while (more(']', "',' or ']' after a list item"));
    out = Json::array();
    auto& array = out.get_ref<Json::array_t&>();
    array.reserve(items.size());
    for (Json& item : items) array.push_back(std::move(item));
    items.clear();
  }

  // Checks the syntax of a value and counts its nodes without building it
  // (duplicate keys go unnoticed there).
  void skip(int depth) {
    count();
    if (p_ == end_) unexpected("a value");
    switch (*p_) {
      case '{':
        enter(depth);
        if (open_empty('}')) return;
        do {
          if (p_ == end_ || *p_ != '"') unexpected("a string key");
          skip_string();
          skip_space();
          if (p_ == end_ || *p_ != ':') unexpected("':' after an object key");
          ++p_;
          skip_space();
          skip(depth + 1);
        } while (more('}', "',' or '}' after an object member"));
        return;
      case '[':
        enter(depth);
        if (open_empty(']')) return;
        do {
          skip(depth + 1);
        } while (more(']', "',' or ']' after a list item"));
        return;
      case '"':
        skip_string();
        return;
      default: {
        --nodes_;  // value() counts it
        Json scalar;
        value(scalar, 0, depth);
      }
    }
  }

  void skip_string() {
    const char* open = p_;
    bool ascii = true;
    const char* q = plain_run(p_ + 1, ascii);
    if (q == end_) fail("unterminated string", open);
    if (*q == '\\') {
      string();  // escapes: the full decoder checks them
      return;
    }
    if (!ascii) check_utf8(p_ + 1, q);
    p_ = q + 1;
  }

  void literal(std::string_view word, Json&& v, Json& out) {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) {
      unexpected("a value");
    }
    p_ += word.size();
    out = std::move(v);
  }

  void number(Json& out) {
    const char* start = p_;
    if (*p_ == '-') ++p_;
    if (p_ == end_ || !is_digit(*p_)) fail("invalid number: a digit must follow '-'", start);
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    bool integral = true;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      ++p_;
      if (p_ == end_ || !is_digit(*p_)) fail("invalid number: a digit must follow '.'", start);
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) fail("invalid number: the exponent has no digits", start);
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (integral) {
      std::int64_t i = 0;
      if (auto r = std::from_chars(start, p_, i); r.ec == std::errc() && r.ptr == p_) {
        out = i;
        return;
      }
      std::uint64_t u = 0;
      if (auto r = std::from_chars(start, p_, u); *start != '-' && r.ec == std::errc() && r.ptr == p_) {
        out = u;
        return;
      }
    }
    double d = 0;
    auto r = std::from_chars(start, p_, d);
    if (r.ec == std::errc::result_out_of_range) {
      d = *start == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    } else if (r.ec != std::errc() || r.ptr != p_) {
      fail("invalid number", start);
    }
    out = kubectl_number(d);
  }

  std::uint32_t hex4(const char* at) {
    if (end_ - at < 4) fail("a \\u escape needs four hex digits", at);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = at[i];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        fail("a \\u escape needs four hex digits", at);
      }
    }
    return v;
  }

  // The end of the run of string bytes from `from` that need no decoding:
  // the closing quote, a backslash or the end of input. Control characters
  // are errors; `ascii` turns false when the run has bytes above 0x7F.
  const char* plain_run(const char* from, bool& ascii) {
    const char* q = from;
    // Eight bytes at a time while none of them is a quote, a backslash or a
    // control character (the usual bit tricks: a flag can be false only
    // above a true one, so the lowest flag is the first such byte).
    constexpr std::uint64_t k01 = 0x0101010101010101ULL;
    constexpr std::uint64_t k80 = 0x8080808080808080ULL;
    while (end_ - q >= 8) {
      std::uint64_t w;
      std::memcpy(&w, q, sizeof w);
      const std::uint64_t quote = w ^ (k01 * '"');
      const std::uint64_t backslash = w ^ (k01 * '\\');
      const std::uint64_t special = ((quote - k01) & ~quote) | ((backslash - k01) & ~backslash) | ((w - k01 * 0x20) & ~w);
      if (const std::uint64_t hits = special & k80; hits != 0) {
        const int at = std::countr_zero(hits) / 8;
        const std::uint64_t before = (std::uint64_t{1} << (at * 8)) - 1;
        if ((w & k80 & before) != 0) ascii = false;
        q += at;  // the loop below stops there, or reports a control character
        break;
      }
      if ((w & k80) != 0) ascii = false;
      q += 8;
    }
    while (q != end_ && *q != '"' && *q != '\\') {
      const auto c = static_cast<unsigned char>(*q);
      if (c < 0x20) fail("a control character must be escaped in a string", q);
      ascii = ascii && c < 0x80;
      ++q;
    }
    return q;
  }

  // p_ is at the opening quote; leaves p_ after the closing one.
  JsonString string() {
    const char* open = p_;
    bool ascii = true;
    // Fast path: no escapes, the common case in manifests.
    const char* q = plain_run(++p_, ascii);
    if (q == end_) fail("unterminated string", open);
    JsonString out(p_, q);
    if (!ascii) check_utf8(p_, q);
    p_ = q;
    while (*p_ != '"') {  // at a backslash
      const char* esc = p_++;
      if (p_ == end_) fail("unterminated string", open);
      switch (*p_++) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t cp = hex4(p_);
          p_ += 4;
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("a \\u escape has a lone low surrogate", esc);
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') fail("a high surrogate must be followed by a low one", esc);
            const std::uint32_t low = hex4(p_ + 2);
            if (low < 0xDC00 || low > 0xDFFF) fail("a high surrogate must be followed by a low one", esc);
            p_ += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail("invalid escape in a string", esc);
      }
      const char* run = p_;
      bool run_ascii = true;
      p_ = plain_run(p_, run_ascii);
      if (p_ == end_) fail("unterminated string", open);
      if (!run_ascii) check_utf8(run, p_);
      out.append(run, p_);
    }
    ++p_;  // closing quote
    return out;
  }

  void check_utf8(const char* from, const char* to) {
    auto p = reinterpret_cast<const unsigned char*>(from);
    const auto end = reinterpret_cast<const unsigned char*>(to);
    while (p < end) {
      const std::size_t n = utf8_sequence(p, end);
      if (n == 0) fail("invalid UTF-8 in a string", reinterpret_cast<const char*>(p));
      p += n;
    }
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  LineCounter lines_;
  const ReadLimits& limits_;
  DocumentSink* item_sink_;
  DocumentSink* streaming_ = nullptr;  // item_sink_ while streaming is allowed
  bool streamed_ = false;              // items of the current document went to the sink
  SourceMap* positions_ = nullptr;  // nullptr when positions are not wanted
  const SkippedFields* skips_;  // nullptr when nothing is left out
  SkippedFields::State skip_state_ = 0;  // candidates for the object about to be parsed
  std::size_t nodes_ = 0;
  std::vector<ObjectBuilder> builders_;  // one per depth reached; capacity reserved up front
  std::vector<std::vector<Json>> item_builders_;  // likewise for arrays
};

}  // namespace

JsonReadResult read_json(std::string_view text, const ReadLimits& limits, DocumentSink& sink) {
  // Counts what reaches the sink, so the caller knows whether falling back
  // to YAML after an error would deliver something twice.
  class Counting final : public DocumentSink {
   public:
    explicit Counting(DocumentSink& inner) : inner_(inner) {}
    void document(Document&& doc) override {
      delivered = true;
      inner_.document(std::move(doc));
    }
    bool wants_items() const override { return inner_.wants_items(); }
    void begin_items() override { inner_.begin_items(); }
    void item(const Json& item, const FieldPath& root, const SourceMap& positions) override {
      delivered = true;
      inner_.item(item, root, positions);
    }
    void end_items(bool is_list) override { inner_.end_items(is_list); }
    bool delivered = false;

   private:
    DocumentSink& inner_;
  } counting(sink);

  JsonParser parser(text, limits, sink.wants_items() ? &counting : nullptr);
  JsonReadResult result;
  while (true) {
    Document doc;
    try {
      if (!parser.next(doc)) break;
    } catch (const SyntaxError& e) {
      result.error = Status::invalid_input(e.message).at(parser.pos(e.at));
      break;
    }
    if (!doc.value.is_null()) counting.document(std::move(doc));
  }
  result.delivered = counting.delivered;
  return result;
}

}  // namespace podguard

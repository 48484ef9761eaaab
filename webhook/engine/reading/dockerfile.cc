#include "engine/reading/dockerfile.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "engine/reading/dockerfile_words.h"

namespace podguard {
namespace {

constexpr std::array<std::string_view, 18> kInstructions = {
    "ADD",     "ARG", "CMD",   "COPY",       "ENTRYPOINT", "ENV",  "EXPOSE", "FROM",   "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
};

bool is_blank(char c) { return c == ' ' || c == '\t'; }
// Go's unicode.IsSpace for ASCII, which BuildKit splits keywords and flags on.
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

int column_of(std::string_view line, std::size_t byte_offset) {
  return 1 + static_cast<int>(count_code_points(line.substr(0, byte_offset)));
}

std::string size_text(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Source text is cut into pieces of at most this many bytes.
constexpr std::size_t kPieceBytes = 4096;

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Appends pieces for `text`, which starts at `pos` and lies on one line, at
// `offset` in the text being built.
void add_pieces(std::string_view text, std::size_t offset, SourcePos pos, std::vector<SourcePiece>& pieces) {
  std::size_t done = 0;
  do {
    pieces.push_back(SourcePiece{offset + done, pos});
    std::size_t next = std::min(text.size(), done + kPieceBytes);
    while (next < text.size() && is_continuation_byte(text[next])) ++next;
    pos.column += static_cast<int>(count_code_points(text.substr(done, next - done)));
    done = next;
  } while (done < text.size());
}

// Where joined[offset] is, given the pieces joined was made of.
SourcePos locate(const std::vector<SourcePiece>& pieces, std::string_view joined, std::size_t offset) {
  if (pieces.empty()) return {};
  auto it = std::upper_bound(pieces.begin(), pieces.end(), offset,
                             [](std::size_t off, const SourcePiece& p) { return off < p.offset; });
  if (it != pieces.begin()) --it;
  const std::size_t from = std::min(it->offset, joined.size());
  const std::size_t to = std::clamp(offset, from, joined.size());
  return SourcePos{it->pos.line, it->pos.column + static_cast<int>(count_code_points(joined.substr(from, to - from)))};
}

// --- JSON arrays of strings, as Go's encoding/json decodes the first value ---

enum class JsonForm { kArray, kNotJson, kNotStrings };

// One past the ']' that closes the array at s[0], skipping strings; npos
// when it is never closed. Go's decoder reads that first value and ignores
// what follows it.
std::size_t json_array_end(std::string_view s) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

JsonForm parse_json_form(std::string_view form, std::vector<std::string>& out) {
  const std::size_t end = json_array_end(form);
  if (end == std::string_view::npos) return JsonForm::kNotJson;
  const nlohmann::json value = nlohmann::json::parse(form.substr(0, end), nullptr, false);
  if (value.is_discarded() || !value.is_array()) return JsonForm::kNotJson;
  for (const nlohmann::json& item : value) {
    if (!item.is_string()) return JsonForm::kNotStrings;  // valid JSON, but Docker refuses it outright
    out.push_back(item.get<std::string>());
  }
  return JsonForm::kArray;
}

// --- flags: BuildKit's extractBuilderFlags ---

struct FlagWord {
  std::string text;
  std::size_t offset = 0;
};

// Reads the `--flag` words at the start of `line`; returns where the
// arguments begin.
std::size_t extract_flags(std::string_view line, std::vector<FlagWord>& words) {
  std::size_t pos = 0;
  for (;;) {
    while (pos < line.size() && is_space(line[pos])) ++pos;
    if (pos + 1 >= line.size() || line[pos] != '-' || line[pos + 1] != '-') return pos;
    FlagWord word;
    word.offset = pos;
    bool blank_ok = false;
    char quote = 0;
    for (; pos < line.size(); ++pos) {
      char ch = line[pos];
      if (quote != 0) {
        if (ch == quote) {
          quote = 0;
          continue;
        }
        if (ch == '\\' && pos + 1 < line.size()) ch = line[++pos];
        word.text += ch;
        continue;
      }
      if (is_space(ch)) break;
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      word.text += ch;
    }
    if (word.text == "--") return pos;  // `--` ends the flags
    if (blank_ok || !word.text.empty()) words.push_back(std::move(word));
  }
}

// --- heredoc markers: BuildKit's ^(\d*)<<(-?)([^<]*)$ over the words ---

struct HeredocMarker {
  std::string delimiter;
  bool strip_tabs = false;
  bool quoted = false;
  std::size_t offset = 0;  // of the word in args
};

std::vector<HeredocMarker> heredoc_markers(std::string_view args) {
  std::vector<HeredocMarker> out;
  for (const WordSpan& w : split_words(args, '\\')) {
    std::string_view word = args.substr(w.begin, w.end - w.begin);
    std::size_t i = 0;
    while (i < word.size() && word[i] >= '0' && word[i] <= '9') ++i;
    if (word.substr(i, 2) != "<<") continue;
    i += 2;
    HeredocMarker m;
    m.offset = w.begin;
    if (i < word.size() && word[i] == '-') {
      m.strip_tabs = true;
      ++i;
    }
    std::string_view rest = word.substr(i);
    if (rest.empty() || rest.find('<') != std::string_view::npos) continue;
    for (char c : rest) {
      if (c == '\'' || c == '"') {
        m.quoted = true;
      } else {
        m.delimiter += c;
      }
    }
    if (m.delimiter.empty()) continue;
    out.push_back(std::move(m));
  }
  return out;
}

bool takes_exec_form(std::string_view keyword) {
  return keyword == "RUN" || keyword == "CMD" || keyword == "ENTRYPOINT" || keyword == "SHELL" || keyword == "COPY" ||
         keyword == "ADD" || keyword == "VOLUME" || keyword == "HEALTHCHECK";
}

bool takes_heredocs(std::string_view keyword) { return keyword == "RUN" || keyword == "COPY" || keyword == "ADD"; }

bool valid_stage_name(std::string_view name) {
  if (name.empty()) return false;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  if (!(lower(name[0]) >= 'a' && lower(name[0]) <= 'z')) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    const char l = lower(c);
    return (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '-' || l == '_' || l == '.';
  });
}

class Parser {
 public:
  Parser(std::string_view text, const DockerfileLimits& limits) : text_(text), limits_(limits) {}

  Result<Dockerfile> run() {
    if (text_.size() > limits_.max_bytes) {
      return Status::too_large("the Dockerfile is larger than " + size_text(limits_.max_bytes));
    }
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") text_.remove_prefix(3);
    if (Status s = read_directives(); !s.ok()) return s;
    std::vector<DockerfileComment> comments;
    bool seen_from = false;
    while (auto line = take_line()) {
      std::size_t lead = 0;
      while (lead < line->text.size() && is_blank(line->text[lead])) ++lead;
      const std::string_view body = line->text.substr(lead);
      if (body.empty()) {
        comments.clear();  // a blank line ends the block of comments above an instruction
        continue;
      }
      if (body.front() == '#') {
        comments.push_back(DockerfileComment{std::string(trim_blanks(body.substr(1))),
                                             SourcePos{line->number, column_of(line->text, lead)}});
        continue;
      }
      Instruction ins;
      Status s = read_instruction(*line, lead, ins);
      if (!s.ok()) return s;
      if (ins.keyword.empty()) continue;  // only continuation characters
      if (ins.keyword == "FROM") seen_from = true;
      if (!seen_from && ins.keyword != "ARG") {
        return Status::invalid_input(ins.keyword + " before the first FROM: only ARG may come before it").at(ins.pos);
      }
      ins.comments = std::move(comments);
      comments.clear();
      if (file_.instructions.size() >= limits_.max_instructions) {
        return Status::too_large("more than " + std::to_string(limits_.max_instructions) + " instructions")
            .at(ins.pos);
      }
      file_.instructions.push_back(std::move(ins));
    }
    if (!seen_from) {
      return Status::invalid_input("no FROM instruction: a Dockerfile needs at least one build stage")
          .at(SourcePos{std::max(1, last_line_), 1});
    }
    return std::move(file_);
  }

 private:
  struct Line {
    std::string_view text;  // without the line break (\n or \r\n)
    int number = 0;
  };

  std::optional<Line> take_line() {
    if (has_peeked_) {
      has_peeked_ = false;
      return peeked_;
    }
    if (at_ >= text_.size()) return std::nullopt;
    const std::size_t end = text_.find('\n', at_);
    std::string_view t = text_.substr(at_, end == std::string_view::npos ? std::string_view::npos : end - at_);
    at_ = end == std::string_view::npos ? text_.size() : end + 1;
    if (!t.empty() && t.back() == '\r') t.remove_suffix(1);
    last_line_ = ++line_number_;
    return Line{t, line_number_};
  }

  // `# name=value` lines at the very top; the first other line ends them.
  Status read_directives() {
    while (auto line = take_line()) {
      std::string_view t = line->text;
      std::size_t i = 1;
      auto blanks = [&] {
        while (i < t.size() && is_blank(t[i])) ++i;
      };
      bool ok = !t.empty() && t[0] == '#';
      std::string name;
      if (ok) {
        blanks();
        const std::size_t start = i;
        while (i < t.size() && ((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                                (i > start && t[i] >= '0' && t[i] <= '9'))) {
          ++i;
        }
        name = lower(t.substr(start, i - start));
        blanks();
        ok = !name.empty() && i < t.size() && t[i] == '=';
      }
      std::string_view value;
      if (ok) {
        ++i;
        value = trim_blanks(t.substr(i));
        ok = !value.empty() && (name == "escape" || name == "syntax" || name == "check");
      }
      if (!ok) {
        peeked_ = *line;
        has_peeked_ = true;
        return {};
      }
      const SourcePos pos{line->number, 1};
      for (const ParserDirective& d : file_.directives) {
        if (d.name == name) return Status::invalid_input("only one " + name + " parser directive can be used").at(pos);
      }
      if (name == "escape") {
        if (value != "\\" && value != "`") {
          return Status::invalid_input("escape directive \"" + std::string(value) + "\" is neither \\ nor `").at(pos);
        }
        file_.escape = value[0];
      }
      file_.directives.push_back(ParserDirective{name, std::string(value), pos});
    }
    return {};
  }

  // Appends line[from..] to `joined`; true when it ends in the escape
  // character, which continues the instruction on the next line.
  bool append_segment(const Line& line, std::size_t from, std::string& joined,
                      std::vector<SourcePiece>& pieces) const {
    std::string_view seg = line.text.substr(from);
    std::string_view trimmed = seg;
    while (!trimmed.empty() && is_blank(trimmed.back())) trimmed.remove_suffix(1);
    const bool continues = !trimmed.empty() && trimmed.back() == file_.escape;
    if (continues) seg = trimmed.substr(0, trimmed.size() - 1);
    if (!seg.empty() || pieces.empty()) add_pieces(seg, joined.size(), SourcePos{line.number, column_of(line.text, from)}, pieces);
    joined.append(seg);
    return continues;
  }

  Status read_instruction(const Line& first, std::size_t lead, Instruction& ins) {
    std::string joined;
    std::vector<SourcePiece> pieces;
    bool more = append_segment(first, lead, joined, pieces);
    int last = first.number;
    while (more) {
      std::optional<Line> next = take_line();
      if (!next) break;
      last = next->number;
      std::string_view t = next->text;
      while (!t.empty() && is_blank(t.front())) t.remove_prefix(1);
      if (t.empty() || t.front() == '#') continue;  // comments and blank lines inside an instruction
      more = append_segment(*next, 0, joined, pieces);
      if (joined.size() > limits_.max_instruction_bytes) {
        return Status::too_large("an instruction longer than " + size_text(limits_.max_instruction_bytes) +
                                 " (continuation lines joined)")
            .at(pieces.front().pos);
      }
    }
    if (joined.size() > limits_.max_instruction_bytes) {
      return Status::too_large("a line longer than " + size_text(limits_.max_instruction_bytes))
          .at(pieces.front().pos);
    }
    ins.end_line = last;

    std::size_t k0 = 0;
    while (k0 < joined.size() && is_space(joined[k0])) ++k0;
    if (k0 == joined.size()) return {};
    std::size_t k1 = k0;
    while (k1 < joined.size() && !is_space(joined[k1])) ++k1;
    ins.keyword = upper(std::string_view(joined).substr(k0, k1 - k0));
    ins.pos = locate(pieces, joined, k0);
    if (!is_dockerfile_instruction(ins.keyword)) {
      return Status::invalid_input("unknown instruction \"" + joined.substr(k0, k1 - k0) + "\"").at(ins.pos);
    }

    std::vector<FlagWord> flag_words;
    const std::string_view after_keyword = std::string_view(joined).substr(k1);
    std::size_t args_begin = k1 + extract_flags(after_keyword, flag_words);
    for (const FlagWord& w : flag_words) {
      DockerfileFlag f;
      std::string_view text = w.text;
      if (text.substr(0, 2) == "--") text.remove_prefix(2);
      const auto eq = text.find('=');
      f.name = std::string(text.substr(0, eq));
      if (eq != std::string_view::npos) {
        f.value = std::string(text.substr(eq + 1));
        f.has_value = true;
      }
      f.pos = locate(pieces, joined, k1 + w.offset);
      ins.flags.push_back(std::move(f));
    }
    while (args_begin < joined.size() && is_space(joined[args_begin])) ++args_begin;
    std::size_t args_end = joined.size();
    while (args_end > args_begin && is_space(joined[args_end - 1])) --args_end;
    ins.args = joined.substr(args_begin, args_end - args_begin);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
      const std::size_t end = i + 1 < pieces.size() ? pieces[i + 1].offset : joined.size();
      if (end <= args_begin && !(i + 1 == pieces.size())) continue;
      if (pieces[i].offset <= args_begin) {
        ins.pieces.push_back(SourcePiece{0, locate(pieces, joined, args_begin)});
      } else {
        ins.pieces.push_back(SourcePiece{pieces[i].offset - args_begin, pieces[i].pos});
      }
    }
    if (Status s = check_arguments(ins); !s.ok()) return s;
    if (takes_heredocs(ins.keyword) && !ins.exec_form) return read_heredocs(ins);
    return {};
  }

  // What BuildKit refuses when it parses (not when it builds).
  Status check_arguments(Instruction& ins) const {
    const std::string& kw = ins.keyword;
    if (ins.args.empty()) return Status::invalid_input(kw + " needs arguments").at(ins.pos);
    if (kw == "FROM") {
      const std::vector<WordSpan> words = split_words(ins.args, file_.escape);
      auto word = [&](std::size_t i) {
        return std::string_view(ins.args).substr(words[i].begin, words[i].end - words[i].begin);
      };
      const bool named = words.size() == 3 && upper(word(1)) == "AS";
      if (words.size() != 1 && !named) {
        return Status::invalid_input("FROM takes an image and optionally AS <name>: FROM image [AS name]").at(ins.pos);
      }
      if (named && !valid_stage_name(word(2))) {
        return Status::invalid_input("invalid stage name \"" + std::string(word(2)) +
                                     "\": it must start with a letter and hold only letters, digits, '-', '_' "
                                     "and '.'")
            .at(ins.pos_at(words[2].begin));
      }
    }
    if (kw == "ONBUILD") {
      const std::string_view inner = std::string_view(ins.args).substr(0, ins.args.find_first_of(" \t"));
      const std::string trigger = upper(inner);
      if (trigger == "ONBUILD" || trigger == "FROM" || trigger == "MAINTAINER") {
        return Status::invalid_input("ONBUILD " + trigger + " is not allowed").at(ins.pos);
      }
      if (!is_dockerfile_instruction(trigger)) {
        return Status::invalid_input("unknown instruction \"" + std::string(inner) + "\" after ONBUILD").at(ins.pos);
      }
    }
    if (!takes_exec_form(kw)) return {};

    std::string_view form = ins.args;
    std::size_t form_offset = 0;
    if (kw == "HEALTHCHECK") {
      const std::size_t sp = form.find_first_of(" \t");
      const std::string type = upper(form.substr(0, sp));
      if (type == "NONE") {
        if (sp != std::string_view::npos) return Status::invalid_input("HEALTHCHECK NONE takes no arguments").at(ins.pos);
        return {};
      }
      if (type != "CMD") return Status::invalid_input("HEALTHCHECK needs CMD <command> or NONE").at(ins.pos);
      if (sp == std::string_view::npos) return Status::invalid_input("HEALTHCHECK CMD needs a command").at(ins.pos);
      form_offset = sp;
      while (form_offset < form.size() && is_space(form[form_offset])) ++form_offset;
      form = form.substr(form_offset);
    }
    if (form.empty() || form.front() != '[') {
      if (kw == "SHELL") return Status::invalid_input("SHELL needs a JSON array: SHELL [\"executable\", \"parameters\"]").at(ins.pos);
      return {};
    }
    std::vector<std::string> items;
    switch (parse_json_form(form, items)) {
      case JsonForm::kArray:
        ins.exec_form = true;
        ins.exec_args = std::move(items);
        return {};
      case JsonForm::kNotStrings:
        return Status::invalid_input(kw + "'s JSON form must be an array of strings").at(ins.pos_at(form_offset));
      case JsonForm::kNotJson:
        break;
    }
    // BuildKit runs a malformed JSON form through /bin/sh -c as text; RUN
    // [ -f x ] is a shell test, but a CMD or ENTRYPOINT written as an array
    // and meant as one is a mistake to stop at.
    if (kw == "RUN" || form.back() != ']') return {};
    return Status::invalid_input(kw + "'s arguments look like a JSON array but are not one (Docker would run them "
                                      "as a shell command); write [\"executable\", \"arg\"] with double quotes")
        .at(ins.pos_at(form_offset));
  }

  Status read_heredocs(Instruction& ins) {
    for (HeredocMarker& m : heredoc_markers(ins.args)) {
      Heredoc doc;
      doc.delimiter = std::move(m.delimiter);
      doc.strip_tabs = m.strip_tabs;
      doc.quoted = m.quoted;
      doc.marker = ins.pos_at(m.offset);
      doc.first_line = line_number_ + 1;
      bool terminated = false;
      while (auto line = take_line()) {
        ins.end_line = line->number;
        std::string_view t = line->text;
        std::uint32_t tabs = 0;
        if (doc.strip_tabs) {
          while (tabs < t.size() && t[tabs] == '\t') ++tabs;
          t.remove_prefix(tabs);
        }
        if (t == doc.delimiter) {
          terminated = true;
          break;
        }
        heredoc_bytes_ += t.size() + 1;
        if (heredoc_bytes_ > limits_.max_heredoc_bytes) {
          return Status::too_large("heredoc bodies larger than " + size_text(limits_.max_heredoc_bytes) +
                                   " in all")
              .at(doc.marker);
        }
        add_pieces(t, doc.body.size(), SourcePos{line->number, 1 + static_cast<int>(tabs)}, doc.pieces);
        doc.body.append(t);
        doc.body += '\n';
      }
      if (!terminated) {
        return Status::invalid_input("heredoc <<" + doc.delimiter + " is not terminated: no line \"" + doc.delimiter +
                                     "\" follows it")
            .at(doc.marker);
      }
      ins.heredocs.push_back(std::move(doc));
    }
    return {};
  }

  std::string_view text_;
  const DockerfileLimits& limits_;
  Dockerfile file_;
  std::size_t at_ = 0;
  int line_number_ = 0;
  int last_line_ = 0;
  // A line read ahead and put back. Not a std::optional: GCC 12 at -O3
  // reports a copy of one as a read of uninitialised memory.
  Line peeked_;
  bool has_peeked_ = false;
  std::size_t heredoc_bytes_ = 0;
};

}  // namespace

std::size_t count_code_points(std::string_view text) {
  std::size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

bool is_dockerfile_instruction(std::string_view keyword) {
  return std::find(kInstructions.begin(), kInstructions.end(), keyword) != kInstructions.end();
}

SourcePos Instruction::pos_at(std::size_t offset) const { return locate(pieces, args, offset); }

SourcePos Heredoc::pos_at(std::size_t offset) const { return locate(pieces, body, offset); }

Result<Dockerfile> parse_dockerfile(std::string_view text, const DockerfileLimits& limits) {
  return Parser(text, limits).run();
}

}  // namespace podguard

// Dockerfiles (and Containerfiles) read the way BuildKit's Dockerfile
// frontend reads them: parser directives (`# escape=`, `# syntax=`),
// comments, line continuations, heredocs (`RUN <<EOF`), flags (`--from`,
// `--mount`, ...), and the JSON (exec) and shell forms. This is the syntax
// only: what a stage inherits and which values variables take are facts,
// one layer up (engine/facts/dockerfile_facts.h).
//
// Expected failures (an unknown instruction, an unterminated heredoc, a
// malformed JSON form, a file over a limit) come back as a Status with the
// line and column; the parser never throws on input and its memory is
// bounded by DockerfileLimits.
//
// A parsed Dockerfile is a plain value; const access is safe from any
// number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"

namespace podguard {

// Bounds that keep a hostile file from taking much memory or time. Every
// structure the parser builds is linear in the input, so these are the
// whole budget.
struct DockerfileLimits {
  std::size_t max_bytes = 4u << 20;                // the whole file
  std::size_t max_instruction_bytes = 256u << 10;  // one instruction, continuation lines joined
  std::size_t max_instructions = 5000;
  std::size_t max_heredoc_bytes = 1u << 20;        // all heredoc bodies of the file together
};

// Where a run of text sits in the source: text[offset] is at pos, and the
// characters after it follow on the same line. Runs are at most a few KiB,
// so finding a position costs no more than that however long the line.
struct SourcePiece {
  std::size_t offset = 0;
  SourcePos pos;
};

// `--name=value` (or `--name` alone) before an instruction's arguments.
struct DockerfileFlag {
  std::string name;   // without the dashes: "from", "mount", "platform"
  std::string value;  // as written, quotes removed; empty when there is none
  bool has_value = false;
  SourcePos pos;      // of the first dash
};

// A here-document: `<<EOF` (or `<<-EOF`, `<<"EOF"`) in RUN, COPY or ADD,
// whose body is the lines after the instruction up to the delimiter line.
struct Heredoc {
  std::string delimiter;  // unquoted: EOF
  std::string body;       // the lines between, each ending in '\n'; with <<- leading tabs removed
  bool strip_tabs = false;  // <<-
  bool quoted = false;      // the delimiter was quoted: no variable expansion in the body
  SourcePos marker;         // where `<<` is
  int first_line = 0;       // the body's first line

  // Where body[offset] is in the source.
  [[nodiscard]] SourcePos pos_at(std::size_t offset) const;

  // How body maps back to the source (tabs removed by <<- accounted for).
  std::vector<SourcePiece> pieces;
};

// A comment line: the text after '#', surrounding blanks removed.
struct DockerfileComment {
  std::string text;
  SourcePos pos;  // of the '#'
};

struct Instruction {
  std::string keyword;  // upper case, as BuildKit matches it case-insensitively: "FROM", "RUN"
  SourcePos pos;        // of the keyword
  int end_line = 0;     // its last line, continuation lines and heredoc bodies included
  std::vector<DockerfileFlag> flags;
  // The arguments after the keyword and the flags, as BuildKit sees them:
  // continuation lines joined (the escape character and the line break
  // removed, comment and blank lines between them dropped), surrounding
  // blanks trimmed. For HEALTHCHECK this starts with CMD or NONE.
  std::string args;
  // JSON (exec) form: args is a JSON array of strings, held in exec_args.
  // Only for RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD, VOLUME and
  // HEALTHCHECK CMD (the part after CMD).
  bool exec_form = false;
  std::vector<std::string> exec_args;
  std::vector<Heredoc> heredocs;  // in the order their markers appear
  // Comment lines directly above the instruction (no blank line between),
  // top to bottom: where inline pragmas live.
  std::vector<DockerfileComment> comments;

  // Where args[offset] is in the source (offset == args.size(): just past
  // the last character).
  [[nodiscard]] SourcePos pos_at(std::size_t offset) const;

  // How args maps back to the source, piece by piece.
  std::vector<SourcePiece> pieces;
};

// A parser directive from the top of the file: `# escape=`` ` or `# syntax=...`.
struct ParserDirective {
  std::string name;  // lower case: escape, syntax, check
  std::string value;
  SourcePos pos;
};

struct Dockerfile {
  char escape = '\\';  // the escape (and line continuation) character
  std::vector<ParserDirective> directives;
  std::vector<Instruction> instructions;
};

// Parses a Dockerfile. Errors name the line and column in the Status; the
// caller adds the file name.
Result<Dockerfile> parse_dockerfile(std::string_view text, const DockerfileLimits& limits = {});

// True for the instruction keywords BuildKit knows (upper case).
bool is_dockerfile_instruction(std::string_view keyword);

// Characters (Unicode code points) in `text`: a column is one more than
// the characters before it on its line. Invalid UTF-8 counts a byte each.
std::size_t count_code_points(std::string_view text);

}  // namespace podguard

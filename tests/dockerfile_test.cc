// The Dockerfile parser (engine/reading/dockerfile.h) and Docker's word
// rules (dockerfile_words.h): every construct BuildKit's frontend reads,
// where each piece sits in the source, and what it refuses.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "engine/reading/dockerfile.h"
#include "engine/reading/dockerfile_words.h"

namespace podguard {
namespace {

Dockerfile parse_ok(std::string_view text) {
  Result<Dockerfile> r = parse_dockerfile(text);
  INFO(text);
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  return std::move(r).value();
}

Status parse_error(std::string_view text, const DockerfileLimits& limits = {}) {
  Result<Dockerfile> r = parse_dockerfile(text, limits);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  CHECK_FALSE(r.error().message().empty());
  return r.status();
}

class MapScope final : public VariableScope {
 public:
  explicit MapScope(std::map<std::string, std::string, std::less<>> vars) : vars_(std::move(vars)) {}
  std::optional<std::string_view> value(std::string_view name) const override {
    auto it = vars_.find(name);
    if (it == vars_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, std::string, std::less<>> vars_;
};

std::string expand(std::string_view word, const MapScope& scope, char escape = '\\') {
  return expand_word(word, escape, scope).text;
}

}  // namespace

TEST_CASE("instructions are case-insensitive and keep their position") {
  const Dockerfile d = parse_ok("from alpine:3.19 as Build\n  Run echo hi\nCMD [\"/app\"]\n");
  REQUIRE(d.instructions.size() == 3);
  CHECK(d.instructions[0].keyword == "FROM");
  CHECK(d.instructions[0].args == "alpine:3.19 as Build");
  CHECK(d.instructions[0].pos == SourcePos{1, 1});
  CHECK(d.instructions[1].keyword == "RUN");
  CHECK(d.instructions[1].pos == SourcePos{2, 3});
  CHECK(d.instructions[1].args == "echo hi");
  CHECK(d.instructions[1].pos_at(5) == SourcePos{2, 12});
  CHECK(d.instructions[2].exec_form);
}

TEST_CASE("line continuations join lines; comments and blank lines between them are dropped") {
  const Dockerfile d = parse_ok(
      "FROM debian:12\n"
      "RUN apt-get update \\\n"
      "# a comment inside the instruction\n"
      "\n"
      "    && apt-get install -y curl \\   \n"
      "  && rm -rf /var/lib/apt/lists/*\n"
      "USER 1001\n");
  REQUIRE(d.instructions.size() == 3);
  const Instruction& run = d.instructions[1];
  CHECK(run.args == "apt-get update     && apt-get install -y curl   && rm -rf /var/lib/apt/lists/*");
  CHECK(run.end_line == 6);
  const auto curl = run.args.find("curl");
  CHECK(run.pos_at(curl) == SourcePos{5, 27});
  CHECK(run.pos_at(run.args.find("rm -rf")) == SourcePos{6, 6});
  CHECK(d.instructions[2].pos == SourcePos{7, 1});
}

TEST_CASE("a keyword split from its arguments by a continuation, and a file ending inside one") {
  const Dockerfile d = parse_ok("FROM scratch\nRUN \\\n  make\nCOPY a \\\n");
  CHECK(d.instructions[1].args == "make");
  CHECK(d.instructions[1].pos_at(0) == SourcePos{3, 3});
  CHECK(d.instructions[2].args == "a");
}

TEST_CASE("parser directives: escape changes continuations, syntax is read and ignored") {
  const Dockerfile d = parse_ok(
      "# syntax=docker/dockerfile:1\n"
      "# escape=`\n"
      "FROM mcr.microsoft.com/windows/servercore:ltsc2022\n"
      "RUN dir c:\\ `\n"
      "  && echo done\n");
  CHECK(d.escape == '`');
  REQUIRE(d.directives.size() == 2);
  CHECK(d.directives[0].name == "syntax");
  CHECK(d.directives[0].value == "docker/dockerfile:1");
  CHECK(d.directives[1].name == "escape");
  CHECK(d.instructions[1].args == "dir c:\\   && echo done");

  SUBCASE("a directive after a comment or a blank line is a comment") {
    const Dockerfile late = parse_ok("# hello\n# escape=`\nFROM a:1\nRUN x \\\n  y\n");
    CHECK(late.escape == '\\');
    CHECK(late.directives.empty());
    CHECK(late.instructions[1].args == "x   y");
  }
  SUBCASE("directive names are case-insensitive, blanks allowed") {
    CHECK(parse_ok("#  ESCAPE = `\nFROM a:1\n").escape == '`');
  }
  SUBCASE("a bad escape, or a directive given twice, is an error") {
    CHECK(parse_error("# escape=x\nFROM a:1\n").pos() == SourcePos{1, 1});
    CHECK(parse_error("# escape=`\n# escape=\\\nFROM a:1\n").pos().line == 2);
  }
}

TEST_CASE("comments directly above an instruction are kept with it; a blank line cuts them off") {
  const Dockerfile d = parse_ok(
      "FROM debian:12\n"
      "# far away\n"
      "\n"
      "# podguard:ignore image-user reason=\"x\"\n"
      "   # second line\n"
      "USER root\n");
  const Instruction& user = d.instructions[1];
  REQUIRE(user.comments.size() == 2);
  CHECK(user.comments[0].text == "podguard:ignore image-user reason=\"x\"");
  CHECK(user.comments[0].pos == SourcePos{4, 1});
  CHECK(user.comments[1].text == "second line");
  CHECK(user.comments[1].pos == SourcePos{5, 4});
  CHECK(d.instructions[0].comments.empty());
}

TEST_CASE("heredocs: bodies, <<-, quoted delimiters, several on one line, positions") {
  SUBCASE("RUN <<EOF") {
    const Dockerfile d = parse_ok(
        "FROM debian:12\n"
        "RUN <<EOF\n"
        "apt-get update\n"
        "apt-get install -y gcc\n"
        "EOF\n"
        "USER 1001\n");
    REQUIRE(d.instructions.size() == 3);
    const Instruction& run = d.instructions[1];
    REQUIRE(run.heredocs.size() == 1);
    const Heredoc& h = run.heredocs[0];
    CHECK(h.delimiter == "EOF");
    CHECK_FALSE(h.quoted);
    CHECK_FALSE(h.strip_tabs);
    CHECK(h.body == "apt-get update\napt-get install -y gcc\n");
    CHECK(h.marker == SourcePos{2, 5});
    CHECK(h.pos_at(h.body.find("gcc")) == SourcePos{4, 20});
    CHECK(run.end_line == 5);
    CHECK(d.instructions[2].pos.line == 6);
  }
  SUBCASE("<<- strips leading tabs from the body and the delimiter line") {
    const Dockerfile d = parse_ok("FROM a:1\nRUN <<-END\n\t\techo hi\n\tEND\n");
    const Heredoc& h = d.instructions[1].heredocs.at(0);
    CHECK(h.strip_tabs);
    CHECK(h.body == "echo hi\n");
    CHECK(h.pos_at(5) == SourcePos{3, 8});
  }
  SUBCASE("quoted delimiters, and a # line in a body is not a comment") {
    const Dockerfile d = parse_ok("FROM a:1\nRUN <<'EOF' sh\n# not a comment\necho $HOME\nEOF\n");
    const Heredoc& h = d.instructions[1].heredocs.at(0);
    CHECK(h.quoted);
    CHECK(h.delimiter == "EOF");
    CHECK(h.body == "# not a comment\necho $HOME\n");
    CHECK(parse_ok("FROM a:1\nRUN <<\"X\"\nbody\nX\n").instructions[1].heredocs.at(0).quoted);
  }
  SUBCASE("several heredocs on one line are read in order") {
    const Dockerfile d = parse_ok(
        "FROM a:1\n"
        "RUN <<FILE1 cat > /file1 && <<FILE2 cat > /file2\n"
        "one\n"
        "FILE1\n"
        "two\n"
        "FILE2\n"
        "COPY <<EOF /etc/app.conf\n"
        "key=value\n"
        "EOF\n");
    const Instruction& run = d.instructions[1];
    REQUIRE(run.heredocs.size() == 2);
    CHECK(run.heredocs[0].body == "one\n");
    CHECK(run.heredocs[1].body == "two\n");
    CHECK(run.heredocs[1].first_line == 5);
    CHECK(d.instructions[2].keyword == "COPY");
    CHECK(d.instructions[2].heredocs.at(0).body == "key=value\n");
  }
  SUBCASE("no heredoc in other instructions, in exec form, or for <<<") {
    CHECK(parse_ok("FROM a:1\nCMD cat <<EOF\n").instructions[1].heredocs.empty());
    CHECK(parse_ok("FROM a:1\nRUN [\"cat\", \"<<EOF\"]\n").instructions[1].heredocs.empty());
    CHECK(parse_ok("FROM a:1\nRUN cat <<<word\n").instructions[1].heredocs.empty());
  }
  SUBCASE("an unterminated heredoc is an error at its marker") {
    const Status s = parse_error("FROM a:1\nRUN apt-get update && <<EOF sh\necho\n");
    CHECK(s.pos() == SourcePos{2, 23});
    CHECK(s.message().find("<<EOF") != std::string::npos);
  }
}

TEST_CASE("JSON (exec) and shell forms") {
  SUBCASE("exec form") {
    const Dockerfile d = parse_ok(
        "FROM a:1\nENTRYPOINT [\"/app/server\", \"--port\", \"8080\"]\nCMD []\nCMD [\"caf\\u00e9\", \"a\\\"b\"] trailing\n");
    CHECK(d.instructions[1].exec_form);
    CHECK(d.instructions[1].exec_args == std::vector<std::string>{"/app/server", "--port", "8080"});
    CHECK(d.instructions[2].exec_form);
    CHECK(d.instructions[2].exec_args.empty());
    CHECK(d.instructions[3].exec_args == std::vector<std::string>{"caf\xC3\xA9", "a\"b"});
  }
  SUBCASE("shell form") {
    const Dockerfile d = parse_ok("FROM a:1\nCMD /app/server --port 8080\nRUN [ -f /etc/os-release ] && echo ok\n");
    CHECK_FALSE(d.instructions[1].exec_form);
    CHECK_FALSE(d.instructions[2].exec_form);  // a shell test, not JSON
  }
  SUBCASE("an array that is not JSON, or not of strings, is an error") {
    CHECK(parse_error("FROM a:1\nCMD ['/app/server', '--port']\n").pos() == SourcePos{2, 5});
    CHECK(parse_error("FROM a:1\nENTRYPOINT [\"/app\", 8080]\n").pos().line == 2);
    CHECK(parse_error("FROM a:1\nSHELL /bin/bash -c\n").pos().line == 2);
  }
  SUBCASE("HEALTHCHECK: flags, then CMD in either form, or NONE") {
    const Dockerfile d = parse_ok(
        "FROM a:1\n"
        "HEALTHCHECK --interval=10s --timeout=3s CMD [\"/app\", \"probe\"]\n"
        "HEALTHCHECK CMD curl -f http://localhost/ || exit 1\n"
        "healthcheck none\n");
    const Instruction& h = d.instructions[1];
    REQUIRE(h.flags.size() == 2);
    CHECK(h.flags[0].name == "interval");
    CHECK(h.flags[0].value == "10s");
    CHECK(h.exec_form);
    CHECK(h.exec_args == std::vector<std::string>{"/app", "probe"});
    CHECK_FALSE(d.instructions[2].exec_form);
    CHECK(d.instructions[3].args == "none");
    CHECK(parse_error("FROM a:1\nHEALTHCHECK curl localhost\n").pos().line == 2);
    CHECK(parse_error("FROM a:1\nHEALTHCHECK CMD\n").pos().line == 2);
  }
}

TEST_CASE("flags before the arguments") {
  const Dockerfile d = parse_ok(
      "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n"
      "RUN --mount=type=cache,target=/root/.cache/go-build --network=none go build ./...\n"
      "COPY --from=build --chown=1001:1001 --link /out/app /app\n"
      "COPY --chmod=\"0755\" -- --weird-name /x\n");
  const Instruction& from = d.instructions[0];
  REQUIRE(from.flags.size() == 1);
  CHECK(from.flags[0].name == "platform");
  CHECK(from.flags[0].value == "$BUILDPLATFORM");
  CHECK(from.flags[0].pos == SourcePos{1, 6});
  CHECK(from.args == "golang:1.22 AS build");
  CHECK(from.pos_at(0) == SourcePos{1, 32});
  const Instruction& run = d.instructions[1];
  REQUIRE(run.flags.size() == 2);
  CHECK(run.flags[0].value == "type=cache,target=/root/.cache/go-build");
  CHECK(run.args == "go build ./...");
  const Instruction& copy = d.instructions[2];
  REQUIRE(copy.flags.size() == 3);
  CHECK(copy.flags[1].name == "chown");
  CHECK(copy.flags[2].name == "link");
  CHECK_FALSE(copy.flags[2].has_value);
  CHECK(copy.args == "/out/app /app");
  CHECK(d.instructions[3].flags.at(0).value == "0755");
  CHECK(d.instructions[3].args == "--weird-name /x");
}

TEST_CASE("what BuildKit refuses is an error with its line") {
  CHECK(parse_error("FROM a:1\nRUNN echo\n").pos() == SourcePos{2, 1});
  CHECK(parse_error("RUN echo\nFROM a:1\n").message().find("before the first FROM") != std::string::npos);
  CHECK(parse_error("ARG A=1\n# only comments\n").message().find("no FROM") != std::string::npos);
  CHECK(parse_error("").pos().line == 1);
  CHECK(parse_error("FROM a:1 b\n").pos().line == 1);
  CHECK(parse_error("FROM a:1 AS 1bad\n").pos() == SourcePos{1, 13});
  CHECK(parse_error("FROM a:1\nUSER\n").pos().line == 2);
  CHECK(parse_error("FROM a:1\nONBUILD ONBUILD RUN x\n").pos().line == 2);
  CHECK(parse_error("FROM a:1\nONBUILD FROBNICATE x\n").pos().line == 2);
  CHECK(parse_ok("ARG BASE=debian:12\nFROM ${BASE}\nONBUILD RUN make\n").instructions.size() == 3);
}

TEST_CASE("columns count characters, not bytes; CRLF and a BOM are read as Docker reads them") {
  const Dockerfile d = parse_ok("\xEF\xBB\xBF" "FROM a:1\r\nLABEL description=\"h\xC3\xA9llo \xE2\x9C\x93\" x=1\r\n");
  const Instruction& label = d.instructions[1];
  CHECK(label.args == "description=\"h\xC3\xA9llo \xE2\x9C\x93\" x=1");
  CHECK(label.pos_at(label.args.find("x=1")) == SourcePos{2, 29});
  CHECK(count_code_points("h\xC3\xA9llo") == 5);
}

TEST_CASE("limits keep hostile input small") {
  DockerfileLimits small;
  small.max_instructions = 3;
  CHECK(parse_error("FROM a:1\nRUN 1\nRUN 2\nRUN 3\n", small).is(StatusCode::kTooLarge));
  small = {};
  small.max_instruction_bytes = 64;
  CHECK(parse_error("FROM a:1\nRUN " + std::string(100, 'x') + "\n", small).is(StatusCode::kTooLarge));
  CHECK(parse_error("FROM a:1\nRUN a \\\n" + std::string(40, 'x') + " \\\n" + std::string(40, 'y') + "\n", small)
            .pos() == SourcePos{2, 1});
  small = {};
  small.max_heredoc_bytes = 16;
  CHECK(parse_error("FROM a:1\nRUN <<EOF\n" + std::string(20, 'z') + "\nEOF\n", small).is(StatusCode::kTooLarge));
  small = {};
  small.max_bytes = 10;
  CHECK(parse_error("FROM alpine:3.19\n", small).is(StatusCode::kTooLarge));
}

TEST_CASE("words split at blanks outside quotes, keeping quotes and escapes") {
  const std::string_view text = R"(a=1 b="two words" c='x y'   d=\"e f)";
  std::vector<std::string> words;
  for (const WordSpan& w : split_words(text, '\\')) words.emplace_back(text.substr(w.begin, w.end - w.begin));
  CHECK(words == std::vector<std::string>{"a=1", "b=\"two words\"", "c='x y'", "d=\\\"e", "f"});
  CHECK(split_words("  ", '\\').empty());
}

TEST_CASE("substitution: $VAR, ${VAR}, defaults, alternatives, patterns, quotes and escapes") {
  const MapScope scope({{"NAME", "app"}, {"EMPTY", ""}, {"VERSION", "1.2.3"}, {"PATHV", "/usr/local/bin"}});
  CHECK(expand("$NAME", scope) == "app");
  CHECK(expand("${NAME}-x", scope) == "app-x");
  CHECK(expand("${MISSING:-fallback}", scope) == "fallback");
  CHECK(expand("${EMPTY:-fallback}", scope) == "fallback");
  CHECK(expand("${EMPTY-fallback}", scope).empty());
  CHECK(expand("${NAME:+alt}", scope) == "alt");
  CHECK(expand("${EMPTY:+alt}", scope).empty());
  CHECK(expand("${EMPTY+alt}", scope) == "alt");
  CHECK(expand("${MISSING+alt}", scope).empty());
  CHECK(expand("${MISSING:-${NAME:-no}}", scope) == "app");
  CHECK(expand("${VERSION%.*}", scope) == "1.2");
  CHECK(expand("${VERSION%%.*}", scope) == "1");
  CHECK(expand("${PATHV#*/}", scope) == "usr/local/bin");
  CHECK(expand("${PATHV##*/}", scope) == "bin");
  CHECK(expand("'$NAME'", scope) == "$NAME");
  CHECK(expand("\"$NAME and ${NAME}\"", scope) == "app and app");
  CHECK(expand("\\$NAME", scope) == "$NAME");
  CHECK(expand("`$NAME", scope, '`') == "$NAME");
  CHECK(expand("\"a\\\"b\"", scope) == "a\"b");
  CHECK(expand("cost: $5", scope) == "cost: ");  // $5 is a (positional) variable, unset
  CHECK(expand("100$", scope) == "100$");
  CHECK(expand("${}", scope) == "${}");  // Docker refuses it; taken as text

  const ExpandedWord unset = expand_word("img:${TAG}-${MISSING:-x}", '\\', scope);
  CHECK(unset.text == "img:-x");
  CHECK(unset.unset == std::vector<std::string>{"TAG"});
  CHECK(unset.literal);
  CHECK(unset.references);
  const ExpandedWord only_refs = expand_word("\"${NAME}\"", '\\', scope);
  CHECK_FALSE(only_refs.literal);
  CHECK(only_refs.unset.empty());
  CHECK_FALSE(expand_word("${NAME:-unused default}", '\\', scope).literal);
  CHECK(expand_word("${MISSING:-used default}", '\\', scope).literal);
  CHECK(expand_word("${NAME:?}${MISSING:?must be set}", '\\', scope).unset == std::vector<std::string>{"MISSING"});
}

TEST_CASE("substitution is bounded") {
  const MapScope scope({{"A", std::string(1000, 'a')}});
  std::string word;
  for (int i = 0; i < 200; ++i) word += "$A";
  const ExpandedWord e = expand_word(word, '\\', scope, 4096);
  CHECK(e.truncated);
  CHECK(e.text.size() == 4096);
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "${X:-";
  deep += "end";
  for (int i = 0; i < 200; ++i) deep += "}";
  CHECK_FALSE(expand_word(deep, '\\', scope).text.empty());  // taken as text past the nesting limit
}

}  // namespace podguard

// The HTTPS server's request parser on its own: byte-at-a-time input,
// pipelining, keep-alive rules, 100-continue and the limits.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "server/http_request_parser.h"

using podguard::server::HttpLimits;
using podguard::server::HttpRequestParser;
using Status = HttpRequestParser::Status;

TEST_CASE("http parser: a request fed one byte at a time completes exactly at its last byte") {
  const std::string text = "\r\nPOST /validate?timeout=10s HTTP/1.1\r\nHost: x\r\ncontent-LENGTH:  5 \r\n\r\nhello";
  HttpRequestParser parser;
  for (std::size_t n = 1; n < text.size(); ++n) {
    CAPTURE(n);
    REQUIRE(parser.parse(std::string_view(text).substr(0, n)) == Status::kNeedMore);
  }
  REQUIRE(parser.parse(text) == Status::kComplete);
  CHECK(parser.method(text) == "POST");
  CHECK(parser.path(text) == "/validate");
  CHECK(parser.query(text) == "timeout=10s");
  CHECK(parser.body(text) == "hello");
  CHECK(parser.consumed() == text.size());
  CHECK(parser.keep_alive());
  CHECK_FALSE(parser.is_head());
}

TEST_CASE("http parser: pipelined requests are read one after the other") {
  const std::string text =
      "GET /a HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHEAD /c HTTP/1.1\r\n\r\n";
  HttpRequestParser parser;
  std::string_view rest = text;
  REQUIRE(parser.parse(rest) == Status::kComplete);
  CHECK(parser.path(rest) == "/a");
  CHECK(parser.body(rest).empty());
  rest.remove_prefix(parser.consumed());
  parser.reset();
  REQUIRE(parser.parse(rest) == Status::kComplete);
  CHECK(parser.path(rest) == "/b");
  CHECK(parser.body(rest) == "abc");
  rest.remove_prefix(parser.consumed());
  parser.reset();
  REQUIRE(parser.parse(rest) == Status::kComplete);
  CHECK(parser.is_head());
  CHECK(parser.consumed() == rest.size());
}

TEST_CASE("http parser: keep-alive follows the version and the Connection header") {
  struct Case {
    const char* request;
    bool keep_alive;
  };
  for (const Case& k : {Case{"GET / HTTP/1.1\r\n\r\n", true}, Case{"GET / HTTP/1.0\r\n\r\n", false},
                        Case{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
                        Case{"GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", false}}) {
    CAPTURE(k.request);
    HttpRequestParser parser;
    REQUIRE(parser.parse(k.request) == Status::kComplete);
    CHECK(parser.keep_alive() == k.keep_alive);
  }
}

TEST_CASE("http parser: 100-continue is asked for once, only while the body is missing") {
  const std::string head = "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
  HttpRequestParser parser;
  CHECK_FALSE(parser.take_continue());
  REQUIRE(parser.parse(head) == Status::kNeedMore);
  CHECK(parser.take_continue());
  CHECK_FALSE(parser.take_continue());
  REQUIRE(parser.parse(head + "ok") == Status::kComplete);

  HttpRequestParser whole;
  REQUIRE(whole.parse(head + "ok") == Status::kComplete);
  CHECK_FALSE(whole.take_continue());  // the body came with the headers
}

TEST_CASE("http parser: limits and malformed input give a status and a message") {
  const HttpLimits limits{128, 1000};
  struct Case {
    std::string request;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nX: " + std::string(200, 'a'), 431, "larger than 128 bytes"},
      {"POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413, "larger than 1000 bytes"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n", 413, "larger than 1000 bytes"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(1100, '1'), 400, "too long"},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", 400, "no CRLF"},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"},
      {"GET /a b HTTP/1.1\r\n\r\n", 400, "request line"},
      {"GET /\x01 HTTP/1.1\r\n\r\n", 400, "control character"},
      {"G(T / HTTP/1.1\r\n\r\n", 400, "method"},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "header name"},
      {"GET / HTTP/3\r\n\r\n", 505, "HTTP/1.0 and HTTP/1.1"},
      {std::string(200, '\n'), 400, "blank lines"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.request.substr(0, 60));
    HttpRequestParser parser(limits);
    REQUIRE(parser.parse(k.request) == Status::kError);
    CHECK(parser.error_status() == k.status);
    CHECK(parser.error_message().find(k.message) != std::string::npos);
    // An error is final until reset.
    CHECK(parser.parse(k.request + "more") == Status::kError);
    parser.reset();
    CHECK(parser.parse("GET / HTTP/1.1\r\n\r\n") == Status::kComplete);
  }
}

TEST_CASE("http parser: chunks are decoded once each, however the body is split") {
  std::string text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string expected;
  for (int i = 0; i < 20000; ++i) {
    const char c = static_cast<char>('a' + i % 26);
    text += "1\r\n";
    text += c;
    text += "\r\n";
    expected += c;
  }
  text += "0\r\n\r\n";
  HttpRequestParser parser;
  Status status = Status::kNeedMore;
  for (std::size_t n = 100; status == Status::kNeedMore; n = std::min(n + 100, text.size())) {
    status = parser.parse(std::string_view(text).substr(0, n));
  }
  REQUIRE(status == Status::kComplete);
  CHECK(parser.body(text) == expected);
  CHECK(parser.consumed() == text.size());
}

TEST_CASE("http parser: chunk framing cannot make the raw request much larger than the body limit") {
  const HttpLimits limits{1024, 1000};  // raw body at most 2 * 1000 + 1024 bytes
  // One-byte chunks with long extensions: 1,000 bytes of body in ~100 KB.
  std::string text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 1000; ++i) text += "1;" + std::string(90, 'e') + "\r\nx\r\n";
  text += "0\r\n\r\n";
  HttpRequestParser parser(limits);
  Status status = Status::kNeedMore;
  std::size_t fed = 0;
  for (std::size_t n = 64; status == Status::kNeedMore && n <= text.size(); n += 64) {
    status = parser.parse(std::string_view(text).substr(0, n));
    fed = n;
  }
  REQUIRE(status == Status::kError);
  CHECK(parser.error_status() == 413);
  CHECK(parser.error_message().find("chunk framing") != std::string::npos);
  CHECK(fed < 2 * 1000 + 1024 + 200);  // refused as soon as the framing went over, not at the end

  // The same body in one chunk is fine.
  const std::string one = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n" + std::string(1000, 'x') +
                          "\r\n0\r\n\r\n";
  HttpRequestParser fine(limits);
  REQUIRE(fine.parse(one) == Status::kComplete);
  CHECK(fine.body(one).size() == 1000);
}

namespace {

// The parser's verdict on `text` fed whole, and fed one byte at a time.
std::pair<Status, Status> whole_and_bytewise(const std::string& text, HttpLimits limits) {
  HttpRequestParser whole(limits);
  const Status at_once = whole.parse(text);
  HttpRequestParser pieces(limits);
  Status status = Status::kNeedMore;
  for (std::size_t n = 1; n <= text.size() && status == Status::kNeedMore; ++n) {
    status = pieces.parse(std::string_view(text).substr(0, n));
  }
  return {at_once, status};
}

}  // namespace

TEST_CASE("http parser: line limits in chunked bodies are judged the same whole and byte by byte (found by fuzzing)") {
  const std::string head = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  // A chunk size line of exactly the 1024-byte limit is allowed either way:
  // its CR alone, before the LF arrives, does not count against it.
  const std::string size_line = "1;" + std::string(1022, 'e') + "\r\nx\r\n0\r\n\r\n";
  const auto [line_whole, line_split] = whole_and_bytewise(head + size_line, {512, 2048});
  CHECK(line_whole == Status::kComplete);
  CHECK(line_split == Status::kComplete);
  // The trailer's limit is on all its lines together: one of 510 bytes and
  // the start of a second is over 512 whichever way it arrives.
  const std::string trailer = "0\r\n" + std::string(510, 't') + "\r\nmore";
  const auto [trailer_whole, trailer_split] = whole_and_bytewise(head + trailer, {512, 2048});
  CHECK(trailer_whole == Status::kError);
  CHECK(trailer_split == Status::kError);
  // A trailer line of exactly the limit, then the end: complete either way.
  const std::string exact = "0\r\n" + std::string(512, 't') + "\r\n\r\n";
  const auto [exact_whole, exact_split] = whole_and_bytewise(head + exact, {512, 2048});
  CHECK(exact_whole == Status::kComplete);
  CHECK(exact_split == Status::kComplete);
}

// Fuzzes the HTTPS server's request parser: any bytes, fed whole or in
// pieces (the split points come from the input), must give the same
// verdict, never read outside the buffer, and respect the limits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/http_request_parser.h"

using podguard::server::HttpLimits;
using podguard::server::HttpRequestParser;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

struct Outcome {
  HttpRequestParser::Status status;
  int error_status = 0;
  std::size_t consumed = 0;
  std::string method, path, query, body;
};

// Parses requests one after the other (pipelining), handing the parser
// `step` more bytes at a time.
Outcome run(std::string_view input, std::size_t step, const HttpLimits& limits, int& requests) {
  HttpRequestParser parser(limits);
  std::size_t begin = 0;
  requests = 0;
  Outcome last{HttpRequestParser::Status::kNeedMore};
  while (begin < input.size() && requests < 16) {
    std::size_t available = begin;
    HttpRequestParser::Status status = HttpRequestParser::Status::kNeedMore;
    while (status == HttpRequestParser::Status::kNeedMore && available < input.size()) {
      available = std::min(input.size(), available + step);
      const std::string_view data = input.substr(begin, available - begin);
      status = parser.parse(data);
      parser.take_continue();
      if (status == HttpRequestParser::Status::kComplete) {
        check(parser.consumed() <= data.size());
        check(parser.body(data).size() <= limits.max_body_bytes);
        last = {status, 0, parser.consumed(), std::string(parser.method(data)), std::string(parser.path(data)),
                std::string(parser.query(data)), std::string(parser.body(data))};
        check(!last.method.empty());
        check(!last.path.empty() && last.path.front() == '/');
      }
    }
    if (status != HttpRequestParser::Status::kComplete) {
      last.status = status;
      if (status == HttpRequestParser::Status::kError) {
        last.error_status = parser.error_status();
        check(last.error_status >= 400 && last.error_status < 600);
        check(!parser.error_message().empty());
      }
      return last;
    }
    ++requests;
    begin += parser.consumed();
    parser.reset();
  }
  return last;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t step = 1 + data[0] % 64;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const HttpLimits limits{512, 2048};
  int whole_requests = 0, split_requests = 0;
  const Outcome whole = run(input, input.size() + 1, limits, whole_requests);
  const Outcome split = run(input, step, limits, split_requests);
  check(whole_requests == split_requests);
  check(whole.status == split.status);
  check(whole.error_status == split.error_status);
  if (whole.status == HttpRequestParser::Status::kComplete || whole_requests > 0) {
    check(whole.method == split.method && whole.path == split.path && whole.query == split.query &&
          whole.body == split.body && whole.consumed == split.consumed);
  }
  return 0;
}

// Reads one HTTP/1.x request from the front of a buffer that grows as bytes
// arrive: request line, headers, and a body by Content-Length or chunked.
// No I/O and no allocation but the de-chunked body, so the HTTPS server and
// the fuzzer drive it the same way.
//
// A parser belongs to one connection and is driven by one worker thread at a
// time; it is not synchronised.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace podguard::server {

// The largest request body podguard takes (an AdmissionReview of a large
// object with managedFields is some hundreds of KiB; the API server's own
// request limit is 3 MiB).
inline constexpr std::size_t kDefaultMaxBodyBytes = 3u << 20;

struct HttpLimits {
  std::size_t max_header_bytes = 64u << 10;            // request line and headers; 431 beyond
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;  // 413 beyond
};

class HttpRequestParser {
 public:
  enum class Status { kNeedMore, kComplete, kError };

  explicit HttpRequestParser(HttpLimits limits = {}) : limits_(limits) {}

  // `data` holds the request from its first byte on (blank lines before it
  // are skipped), possibly followed by the next ones; every call passes the
  // bytes of the previous call again, plus any that arrived since. Work
  // already done is not repeated.
  Status parse(std::string_view data);

  // After kError: the HTTP status to answer with and why.
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }
  // After kError: a short stable label for metrics ("malformed_request",
  // "headers_too_large", "body_too_large", ...).
  std::string_view error_reason() const;

  // After kComplete. The views point into `data` as passed to parse(), or
  // into the parser (a de-chunked body).
  std::string_view method(std::string_view data) const { return data.substr(method_at_, method_len_); }
  std::string_view path(std::string_view data) const { return data.substr(path_at_, path_len_); }
  std::string_view query(std::string_view data) const { return data.substr(query_at_, query_len_); }
  std::string_view body(std::string_view data) const {
    return chunked_ ? std::string_view(dechunked_) : data.substr(header_end_, content_length_);
  }
  // Bytes of `data` this request took (with blank lines before it).
  std::size_t consumed() const { return consumed_; }

  // Once the headers are read.
  bool headers_done() const { return headers_done_; }
  std::size_t body_offset() const { return header_end_; }  // where the body starts in `data`
  bool keep_alive() const { return keep_alive_; }
  bool is_head() const { return head_; }

  // True once per request when the client sent `Expect: 100-continue` and
  // its body has not all arrived: the caller sends "100 Continue".
  bool take_continue();

  // Ready for the next request; keeps the de-chunking buffer's memory
  // unless it grew large.
  void reset();

 private:
  Status fail(int status, std::string message);
  Status parse_head(std::string_view data);
  Status parse_request_line(std::string_view data, std::string_view line);
  Status parse_header_fields(std::string_view head, std::size_t line_end);
  Status parse_chunked(std::string_view data);

  HttpLimits limits_;
  Status status_ = Status::kNeedMore;
  int error_status_ = 0;
  std::string error_message_;

  std::size_t start_ = 0;       // first byte of the request line
  std::size_t scanned_ = 0;     // bytes already searched for the end of the headers
  bool headers_done_ = false;
  std::size_t header_end_ = 0;  // offset of the body in `data`
  std::size_t method_at_ = 0, method_len_ = 0, path_at_ = 0, path_len_ = 0, query_at_ = 0, query_len_ = 0;
  std::size_t content_length_ = 0;
  bool chunked_ = false;
  bool keep_alive_ = true;
  bool head_ = false;
  bool expect_continue_ = false;
  bool http10_ = false;
  std::string dechunked_;     // the chunks decoded so far
  std::size_t chunk_pos_ = 0;  // where the next chunk's size line starts, after the headers
  std::size_t consumed_ = 0;
};

}  // namespace podguard::server

#include "server/http_request_parser.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace podguard::server {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value lists `token`.
bool has_token(std::string_view value, std::string_view token) {
  while (true) {
    const std::size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

constexpr std::size_t kMaxChunkLine = 1024;  // a size and its extensions

// Bytes from `from` to the end of `data`, which holds no CRLF after `from`,
// not counting a final CR: it may be the start of the CRLF to come. (So a
// limit on a line is judged the same whether the line came whole or in
// pieces: found by fuzzing.)
std::size_t unended_line_bytes(std::string_view data, std::size_t from) {
  const std::size_t n = data.size() - from;
  return n > 0 && data.back() == '\r' ? n - 1 : n;
}

// "3 MiB", "64 KiB", "1000 bytes".
std::string readable_size(std::size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

HttpRequestParser::Status HttpRequestParser::fail(int status, std::string message) {
  error_status_ = status;
  error_message_ = std::move(message);
  status_ = Status::kError;
  return status_;
}

void HttpRequestParser::reset() {
  status_ = Status::kNeedMore;
  error_status_ = 0;
  error_message_.clear();
  start_ = scanned_ = header_end_ = 0;
  headers_done_ = false;
  method_at_ = method_len_ = path_at_ = path_len_ = query_at_ = query_len_ = 0;
  content_length_ = 0;
  chunked_ = false;
  keep_alive_ = true;
  head_ = false;
  expect_continue_ = false;
  http10_ = false;
  dechunked_.clear();
  if (dechunked_.capacity() > (64u << 10)) std::string().swap(dechunked_);
  chunk_pos_ = 0;
  consumed_ = 0;
}

bool HttpRequestParser::take_continue() {
  if (!expect_continue_ || status_ != Status::kNeedMore || !headers_done_) return false;
  expect_continue_ = false;
  return true;
}

HttpRequestParser::Status HttpRequestParser::parse(std::string_view data) {
  if (status_ != Status::kNeedMore) return status_;
  if (!headers_done_) {
    const Status head = parse_head(data);
    if (head != Status::kComplete) return head;
  }
  if (chunked_) return parse_chunked(data);
  if (data.size() - header_end_ < content_length_) return Status::kNeedMore;
  consumed_ = header_end_ + content_length_;
  status_ = Status::kComplete;
  return status_;
}

std::string_view HttpRequestParser::error_reason() const {
  switch (error_status_) {
    case 400: return "malformed_request";
    case 413: return "body_too_large";
    case 431: return "headers_too_large";
    case 501: return "unsupported_transfer_coding";
    case 505: return "unsupported_http_version";
    default: return "other";
  }
}

// kComplete here means the headers are read.
HttpRequestParser::Status HttpRequestParser::parse_head(std::string_view data) {
  // Blank lines before a request line are allowed (RFC 9112 2.2).
  while (start_ < data.size() && (data[start_] == '\r' || data[start_] == '\n')) ++start_;
  if (start_ > limits_.max_header_bytes) return fail(400, "too many blank lines before the request");
  if (start_ == data.size()) return Status::kNeedMore;
  const std::size_t from = std::max(start_, scanned_ >= 3 ? scanned_ - 3 : 0);
  const std::size_t end = data.find("\r\n\r\n", from);
  if (end == std::string_view::npos) {
    scanned_ = data.size();
    if (data.size() - start_ > limits_.max_header_bytes) {
      return fail(431, "request line and headers larger than " + readable_size(limits_.max_header_bytes));
    }
    return Status::kNeedMore;
  }
  if (end + 4 - start_ > limits_.max_header_bytes)
    return fail(431, "request line and headers larger than " + readable_size(limits_.max_header_bytes));
  header_end_ = end + 4;
  const std::string_view head = data.substr(start_, end - start_);
  const std::size_t line_end = head.find("\r\n");
  if (const Status s = parse_request_line(data, head.substr(0, line_end)); s == Status::kError) return s;
  if (const Status s = parse_header_fields(head, line_end); s == Status::kError) return s;
  if (content_length_ > limits_.max_body_bytes)
    return fail(413, "request body larger than " + readable_size(limits_.max_body_bytes));
  if (content_length_ == 0 && !chunked_) expect_continue_ = false;
  headers_done_ = true;
  return Status::kComplete;
}

// METHOD SP request-target SP HTTP-version. kNeedMore means it was fine.
HttpRequestParser::Status HttpRequestParser::parse_request_line(std::string_view data, std::string_view line) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  const std::string_view method = line.substr(0, sp1);
  if (!is_token(method)) return fail(400, "malformed request method");
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") {
    keep_alive_ = true;
  } else if (version == "HTTP/1.0") {
    keep_alive_ = false;
    http10_ = true;
  } else if (version.substr(0, 5) == "HTTP/") {
    return fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
  } else {
    return fail(400, "malformed request line");
  }
  if (target.empty() || target.front() != '/') return fail(400, "the request target must be a path starting with /");
  for (char c : target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return fail(400, "the request target has a control character");
  }
  const std::size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  method_at_ = start_;
  method_len_ = method.size();
  path_at_ = static_cast<std::size_t>(path.data() - data.data());
  path_len_ = path.size();
  if (q != std::string_view::npos) {
    query_at_ = path_at_ + q + 1;
    query_len_ = target.size() - q - 1;
  }
  head_ = method == "HEAD";
  return Status::kNeedMore;
}

// The header lines after the request line. kNeedMore means they were fine.
HttpRequestParser::Status HttpRequestParser::parse_header_fields(std::string_view head, std::size_t line_end) {
  bool have_length = false;
  bool close = false, keep_alive = false;
  while (line_end != std::string_view::npos) {
    const std::size_t line_start = line_end + 2;
    line_end = head.find("\r\n", line_start);
    const std::string_view line =
        head.substr(line_start, line_end == std::string_view::npos ? line_end : line_end - line_start);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "malformed header line");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return fail(400, "malformed header name");
    const std::string_view value = trim(line.substr(colon + 1));
    for (char c : value) {  // RFC 9110 5.5: no CR, LF, NUL or other controls but HTAB
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
        return fail(400, "the value of header " + std::string(name.substr(0, 64)) + " has a control character");
    }
    if (iequals(name, "content-length")) {
      std::size_t length = 0;
      const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (!value.empty() && p == value.data() + value.size() && ec == std::errc::result_out_of_range) {
        return fail(413, "request body larger than " + readable_size(limits_.max_body_bytes));
      }
      if (value.empty() || ec != std::errc() || p != value.data() + value.size()) {
        return fail(400, "invalid Content-Length");
      }
      if (have_length && length != content_length_) return fail(400, "conflicting Content-Length headers");
      have_length = true;
      content_length_ = length;
    } else if (iequals(name, "transfer-encoding")) {
      if (!iequals(value, "chunked")) return fail(501, "only the chunked transfer coding is supported");
      chunked_ = true;
    } else if (iequals(name, "connection")) {
      close = close || has_token(value, "close");
      keep_alive = keep_alive || has_token(value, "keep-alive");
    } else if (iequals(name, "expect")) {
      expect_continue_ = iequals(value, "100-continue");
    }
  }
  if (chunked_ && have_length) return fail(400, "both Content-Length and Transfer-Encoding are set");
  if (close) keep_alive_ = false;
  if (keep_alive && http10_) keep_alive_ = true;
  return Status::kNeedMore;
}

// Decodes the chunks that have arrived whole since the last call (each is
// read once), and refuses a body whose framing alone would make the raw
// request far larger than its limit (a megabyte of one-byte chunks with long
// extensions, say).
HttpRequestParser::Status HttpRequestParser::parse_chunked(std::string_view data) {
  const std::string_view body = data.substr(header_end_);
  const std::size_t max_raw = 2 * limits_.max_body_bytes + limits_.max_header_bytes;
  const auto too_large = [&] {
    return fail(413, "request body larger than " + readable_size(limits_.max_body_bytes) + " (with its chunk framing)");
  };
  std::size_t pos = chunk_pos_;
  while (true) {
    const std::size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      if (unended_line_bytes(body, pos) > kMaxChunkLine) {
        return fail(400, "malformed chunked body: chunk size line too long");
      }
      return Status::kNeedMore;
    }
    if (eol - pos > kMaxChunkLine) return fail(400, "malformed chunked body: chunk size line too long");
    std::string_view size_text = body.substr(pos, eol - pos);
    size_text = trim(size_text.substr(0, size_text.find(';')));  // chunk extensions
    std::size_t size = 0;
    const auto [p, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || p != size_text.data() + size_text.size()) {
      return fail(400, "malformed chunked body: bad chunk size");
    }
    if (ec != std::errc() || size > limits_.max_body_bytes - dechunked_.size()) {
      return fail(413, "request body larger than " + readable_size(limits_.max_body_bytes));
    }
    if (size == 0) {
      // Trailer fields, then a blank line.
      std::size_t t = eol + 2;
      while (true) {
        const std::size_t line_end = body.find("\r\n", t);
        if (line_end == std::string_view::npos) {
          // Counted as when the line ends (the trailer so far, all lines);
          // an empty line ends the trailer and is not counted.
          if (unended_line_bytes(body, t) > 0 && unended_line_bytes(body, eol + 2) > limits_.max_header_bytes)
            return fail(431, "chunked trailer larger than " + readable_size(limits_.max_header_bytes));
          return Status::kNeedMore;
        }
        if (line_end == t) {
          if (line_end + 2 > max_raw) return too_large();
          consumed_ = header_end_ + line_end + 2;
          status_ = Status::kComplete;
          return status_;
        }
        if (line_end - (eol + 2) > limits_.max_header_bytes)
          return fail(431, "chunked trailer larger than " + readable_size(limits_.max_header_bytes));
        t = line_end + 2;
      }
    }
    // Judged by where the chunk says it ends, so whether its bytes are all
    // here yet makes no difference. (Chunks start before max_raw and size
    // lines are short, so the buffer stays within about max_raw.)
    const std::size_t chunk_end = eol + 2 + size + 2;
    if (chunk_end > max_raw) return too_large();
    if (body.size() < chunk_end) return Status::kNeedMore;
    if (body.substr(eol + 2 + size, 2) != "\r\n") return fail(400, "malformed chunked body: no CRLF after a chunk");
    dechunked_.append(body.substr(eol + 2, size));
    pos = chunk_end;
    chunk_pos_ = pos;
  }
}

}  // namespace podguard::server

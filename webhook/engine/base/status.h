// Status: the outcome of an operation that can fail in an expected way (bad
// input, a missing file, a registry that does not answer), as a value.
// Modelled on leveldb's Status: named constructors, ok(), and a message
// meant for the person who has to fix the input, with the file, the line
// and column and the key or field where they are known:
//
//   policy.yaml:12:5: rules.image-pinned.requireDigest: expected true or false
//
// An ok Status is one null pointer: cheap to return on every hot path.
// Exceptions are kept for what the standard library or a dependency throws,
// and are caught at the edge where input enters (see STYLE.md).
//
// Result<T> carries a value or the Status that explains its absence.
//
// Both are plain values: copy them between threads freely; a single object
// is not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace podguard {

// 1-based line and column; 0 when unknown. Columns count characters
// (Unicode code points), as editors and SARIF viewers do.
struct SourcePos {
  int line = 0;
  int column = 0;

  [[nodiscard]] bool known() const { return line > 0; }
  bool operator==(const SourcePos&) const = default;
};

enum class StatusCode : std::uint8_t {
  kOk,
  kInvalidInput,      // malformed or rejected input: syntax, a wrong type, an unknown key
  kNotFound,          // a file, a key or an image that does not exist
  kIoError,           // reading or writing a file or a socket failed
  kUnavailable,       // a remote service failed or refused; a retry may succeed
  kDeadlineExceeded,  // the time budget ran out
  kTooLarge,          // over a configured limit (size, depth, node count)
  kPermissionDenied,  // credentials missing or refused
  kInternal,          // a bug: an invariant did not hold
};

std::string_view to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(const Status& other) : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status ok_status() { return Status(); }
  static Status invalid_input(std::string message) { return Status(StatusCode::kInvalidInput, std::move(message)); }
  static Status not_found(std::string message) { return Status(StatusCode::kNotFound, std::move(message)); }
  static Status io_error(std::string message) { return Status(StatusCode::kIoError, std::move(message)); }
  static Status unavailable(std::string message) { return Status(StatusCode::kUnavailable, std::move(message)); }
  static Status deadline_exceeded(std::string message) {
    return Status(StatusCode::kDeadlineExceeded, std::move(message));
  }
  static Status too_large(std::string message) { return Status(StatusCode::kTooLarge, std::move(message)); }
  static Status permission_denied(std::string message) {
    return Status(StatusCode::kPermissionDenied, std::move(message));
  }
  static Status internal(std::string message) { return Status(StatusCode::kInternal, std::move(message)); }

  [[nodiscard]] bool ok() const { return rep_ == nullptr; }
  [[nodiscard]] StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  [[nodiscard]] bool is(StatusCode c) const { return code() == c; }

  // The sentence alone, without file, position or key; empty when ok.
  [[nodiscard]] const std::string& message() const;
  // Where the problem is; empty or unknown when not given.
  [[nodiscard]] const std::string& file() const;
  [[nodiscard]] SourcePos pos() const { return rep_ ? rep_->pos : SourcePos{}; }
  [[nodiscard]] const std::string& key() const;

  // Adds where the problem is. No effect on an ok Status.
  Status& with_file(std::string_view file) &;
  Status&& with_file(std::string_view file) && { return std::move(with_file(file)); }
  Status& at(SourcePos pos) &;
  Status&& at(SourcePos pos) && { return std::move(at(pos)); }
  Status& with_key(std::string_view key) &;
  Status&& with_key(std::string_view key) && { return std::move(with_key(key)); }
  // Prefixes the message with context: "reading the config: <message>".
  Status& prefix(std::string_view context) &;
  Status&& prefix(std::string_view context) && { return std::move(prefix(context)); }

  // Replaces every byte of the message that is not printable ASCII with
  // '?': for messages that quote what a remote party sent (a registry's
  // media type, platform or error text), so that it cannot put terminal
  // escapes into podguard's output, logs or a webhook's answer.
  Status& make_printable() &;
  Status&& make_printable() && { return std::move(make_printable()); }

  // "file:line:col: key: message", leaving out the parts that are unknown;
  // "ok" for an ok Status.
  [[nodiscard]] std::string to_string() const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::string file;
    std::string key;
    SourcePos pos;
  };

  Status(StatusCode code, std::string message)
      : rep_(std::make_unique<Rep>(Rep{code, std::move(message), {}, {}, {}})) {}

  std::unique_ptr<Rep> rep_;
};

// A value, or the Status that says why there is none. Construct from either;
// `ok()` tells which. Reading value() of a failed Result is a bug (it
// throws std::bad_variant_access).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    if (std::get<Status>(v_).ok()) v_ = Status::internal("Result built from an ok Status without a value");
  }

  [[nodiscard]] bool ok() const { return std::holds_alternative<T>(v_); }
  // The failure; an ok Status when there is a value.
  [[nodiscard]] Status status() const { return ok() ? Status() : std::get<Status>(v_); }
  [[nodiscard]] const Status& error() const { return std::get<Status>(v_); }

  [[nodiscard]] T& value() & { return std::get<T>(v_); }
  [[nodiscard]] const T& value() const& { return std::get<T>(v_); }
  [[nodiscard]] T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace podguard

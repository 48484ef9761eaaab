#include "engine/base/status.h"

namespace podguard {

namespace {
const std::string kEmpty;
}  // namespace

std::string_view to_string(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidInput:
      return "invalid input";
    case StatusCode::kNotFound:
      return "not found";
    case StatusCode::kIoError:
      return "I/O error";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kDeadlineExceeded:
      return "deadline exceeded";
    case StatusCode::kTooLarge:
      return "too large";
    case StatusCode::kPermissionDenied:
      return "permission denied";
    case StatusCode::kInternal:
      return "internal error";
  }
  return "unknown";
}

const std::string& Status::message() const { return rep_ ? rep_->message : kEmpty; }
const std::string& Status::file() const { return rep_ ? rep_->file : kEmpty; }
const std::string& Status::key() const { return rep_ ? rep_->key : kEmpty; }

Status& Status::with_file(std::string_view file) & {
  if (rep_) rep_->file = file;
  return *this;
}

Status& Status::at(SourcePos pos) & {
  if (rep_) rep_->pos = pos;
  return *this;
}

Status& Status::with_key(std::string_view key) & {
  if (rep_) rep_->key = key;
  return *this;
}

Status& Status::make_printable() & {
  if (rep_) {
    for (char& c : rep_->message) {
      if (c < 0x20 || c >= 0x7f) c = '?';
    }
  }
  return *this;
}

Status& Status::prefix(std::string_view context) & {
  if (rep_) rep_->message = std::string(context) + ": " + rep_->message;
  return *this;
}

std::string Status::to_string() const {
  if (!rep_) return "ok";
  std::string out;
  if (!rep_->file.empty()) {
    out += rep_->file;
    if (rep_->pos.known()) out += ":" + std::to_string(rep_->pos.line) + ":" + std::to_string(rep_->pos.column);
    out += ": ";
  } else if (rep_->pos.known()) {
    out += "line " + std::to_string(rep_->pos.line) + ", column " + std::to_string(rep_->pos.column) + ": ";
  }
  if (!rep_->key.empty()) out += rep_->key + ": ";
  out += rep_->message;
  return out;
}

}  // namespace podguard

// Reading test inputs: files under tests/fixtures and the shared upstream
// corpora in ../shared/fixtures (which may be absent: callers skip then).
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/reading/manifest_reader.h"

namespace podguard::testing {

inline std::filesystem::path test_fixtures_dir() { return PODGUARD_TEST_FIXTURES; }
inline std::filesystem::path shared_fixtures_dir() { return PODGUARD_SHARED_FIXTURES; }

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Parses a manifest file; throws with the file name and position on error.
inline std::vector<Document> read_manifest(const std::filesystem::path& path) {
  ReadResult r = read_documents(read_text(path));
  if (!r.error.ok()) {
    throw std::runtime_error(path.string() + ":" + std::to_string(r.error.pos().line) + ": " + r.error.message());
  }
  return std::move(r.documents);
}

// The single object in a YAML snippet; fails the test on a parse error.
inline Json yaml_object(std::string_view text) {
  ReadResult r = read_documents(text, InputFormat::kYaml);
  if (!r.error.ok() || r.documents.size() != 1) {
    throw std::runtime_error("test snippet: " + (!r.error.ok() ? r.error.message() : std::string("not one document")));
  }
  return std::move(r.documents.front().value);
}

// Sorted regular files directly in `dir` with the given extension.
inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir, const std::string& ext) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace podguard::testing

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

#include "engine/policy/config.h"
#include "engine/policy/policy.h"
#include "engine/reading/manifest_reader.h"
#include "engine/rules/builtin.h"

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

// The values of the `# key: value` comment lines a fixture starts with, in
// order (the first line that is not a comment ends them).
inline std::vector<std::string> header_values(const std::string& text, std::string_view key) {
  std::vector<std::string> out;
  const std::string prefix = "# " + std::string(key) + ":";
  std::size_t pos = 0;
  while (pos < text.size() && text[pos] == '#') {
    const auto end = text.find('\n', pos);
    std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    if (line.rfind(prefix, 0) != 0) continue;
    line.erase(0, prefix.size());
    while (!line.empty() && line.front() == ' ') line.erase(0, 1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

// A policy of the built-in rules with only `rule` on, at deny, with
// `params` merged over its defaults: how rule fixtures are judged.
inline Policy only_rule(std::size_t rule, const Json& params) {
  Policy p = Policy::defaults(builtin_rules());
  for (auto& s : p.rules) s.action = Action::kOff;
  p.rules[rule].action = Action::kDeny;
  for (const auto& [k, v] : params.items()) p.rules[rule].params[k] = v;
  return p;
}

// The `# params: {json}` a fixture starts with (an empty object when there
// is none); fails the test when it is not a JSON object.
inline Json header_params(const std::string& text, const std::filesystem::path& file) {
  Json params = Json::object();
  for (const std::string& line : header_values(text, "params")) {
    params = Json::parse(line, nullptr, false);
    if (params.is_discarded() || !params.is_object()) {
      throw std::runtime_error(file.string() + ": # params: is not a JSON object");
    }
  }
  return params;
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

// The policy of a PolicyConfig body (what follows apiVersion and kind) over
// the built-in rules; throws with the loader's messages when it is invalid.
inline Policy policy_from_config(const std::string& body) {
  ConfigLoad load = load_config("apiVersion: podguard.io/v1alpha1\nkind: PolicyConfig\n" + body, builtin_rules());
  if (!load.policy) throw std::runtime_error(format_config_errors("test config", load.errors));
  return std::move(*load.policy);
}

}  // namespace podguard::testing

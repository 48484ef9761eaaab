#include "cli/manifest_files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>

namespace podguard::cli {
namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxInputBytes = 256u << 20;

bool manifest_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

void walk(const fs::path& dir, std::vector<std::string>& found, std::vector<Status>& errors) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    errors.push_back(Status::io_error("cannot list directory: " + ec.message()).with_file(dir.string()));
    return;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      errors.push_back(Status::io_error("cannot list directory: " + ec.message()).with_file(it->path().string()));
      break;
    }
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      // .git, .terraform and friends hold no manifests of ours.
      if (!name.empty() && name[0] == '.') it.disable_recursion_pending();
      continue;
    }
    if (name.empty() || name[0] == '.' || !(manifest_extension(p) || is_dockerfile_name(name))) continue;
    if (it->is_regular_file(type_ec)) found.push_back(p.string());
  }
}

}  // namespace

bool is_dockerfile_name(std::string_view filename) {
  const std::string name = lower(filename);
  if (name.size() > 13 && name.substr(name.size() - 13) == ".dockerignore") return false;
  for (std::string_view base : {"dockerfile", "containerfile"}) {
    if (name == base) return true;
    if (name.size() > base.size() + 1 && name.compare(0, base.size() + 1, std::string(base) + ".") == 0) return true;
    if (name.size() > base.size() + 1 && name.compare(name.size() - base.size() - 1, std::string_view::npos,
                                                      "." + std::string(base)) == 0) {
      return true;
    }
  }
  return false;
}

ExpandedInputs expand_inputs(const std::vector<std::string>& args) {
  ExpandedInputs out;
  std::set<std::string> seen;
  bool stdin_taken = false;
  for (const std::string& arg : args) {
    if (arg == "-") {
      if (!stdin_taken) out.inputs.push_back(ManifestInput{"<stdin>", true});
      stdin_taken = true;
      continue;
    }
    std::error_code ec;
    const fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      out.errors.push_back(Status::not_found("no such file or directory").with_file(arg));
      continue;
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> found;
      walk(arg, found, out.errors);
      std::sort(found.begin(), found.end());
      for (auto& f : found) {
        const bool dockerfile = is_dockerfile_name(fs::path(f).filename().string());
        if (seen.insert(f).second) out.inputs.push_back(ManifestInput{std::move(f), false, dockerfile});
      }
      continue;
    }
    if (seen.insert(arg).second) {
      out.inputs.push_back(ManifestInput{arg, false, is_dockerfile_name(fs::path(arg).filename().string())});
    }
  }
  return out;
}

Result<std::string> read_input(const ManifestInput& input) {
  if (input.is_stdin) {
    // Read once and kept: `check --image-lookup` reads its inputs twice
    // (their images first), and standard input cannot be read again.
    static const std::optional<std::string> kStdin = []() -> std::optional<std::string> {
      std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
      if (std::cin.bad()) return std::nullopt;
      return text;
    }();
    if (!kStdin) return Status::io_error("cannot read standard input").with_file(input.name);
    return *kStdin;
  }
  std::error_code ec;
  const auto size = fs::file_size(input.name, ec);
  if (!ec && size > kMaxInputBytes) {
    return Status::too_large("file is larger than 256 MiB").with_file(input.name);
  }
  std::ifstream in(input.name, std::ios::binary);
  if (!in) {
    return Status::io_error(std::string("cannot open: ") + std::strerror(errno)).with_file(input.name);
  }
  std::string text;
  if (!ec) {
    // Read in one call; the size may still change under us, so go on
    // reading until end of file.
    text.resize(static_cast<std::size_t>(size));
    in.read(text.data(), static_cast<std::streamsize>(size));
    text.resize(static_cast<std::size_t>(in.gcount()));
  }
  if (in) {
    std::ostringstream rest;
    rest << in.rdbuf();
    text += rest.str();
  }
  if (in.bad()) {
    return Status::io_error("read error").with_file(input.name);
  }
  return text;
}

}  // namespace podguard::cli

#include "engine/facts/package_installs.h"

#include <algorithm>
#include <array>
#include <unordered_map>

namespace podguard {
namespace {

struct Word {
  std::string text;     // quotes and escapes removed
  std::string_view raw;  // as written
  std::size_t offset = 0;
  bool dynamic = false;  // has $VAR, $(...) or `...`
};

using Command = std::vector<Word>;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool ends_command(char c) { return c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Scans `$(...)` from s[i] == '$'; returns the index past the closing ')'.
std::size_t skip_command_substitution(std::string_view s, std::size_t i) {
  int depth = 0;
  for (; i < s.size(); ++i) {
    if (s[i] == '(') ++depth;
    if (s[i] == ')' && --depth == 0) return i + 1;
  }
  return s.size();
}

// One shell word from s[i], as the shell reads it: quotes removed, escapes
// applied; a word with $ or backquotes is marked dynamic. Leaves `i` after
// the word.
Word read_word(std::string_view s, std::size_t& i) {
  Word w;
  w.offset = i;
  while (i < s.size()) {
    const char ch = s[i];
    if (is_blank(ch) || ends_command(ch) || ch == '<' || ch == '>') break;
    if (ch == '\\') {
      if (i + 1 < s.size() && s[i + 1] != '\n') w.text += s[i + 1];
      i += 2;
      continue;
    }
    if (ch == '\'') {
      const std::size_t close = s.find('\'', i + 1);
      const std::size_t end = close == std::string_view::npos ? s.size() : close;
      w.text.append(s.substr(i + 1, end - i - 1));
      i = end + 1;
      continue;
    }
    if (ch == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size() && std::string_view("\"\\$`\n").find(s[i + 1]) != std::string_view::npos) {
          if (s[i + 1] != '\n') w.text += s[i + 1];
          i += 2;
          continue;
        }
        if (s[i] == '$' || s[i] == '`') w.dynamic = true;
        w.text += s[i++];
      }
      ++i;
      continue;
    }
    if (ch == '$' || ch == '`') {
      w.dynamic = true;
      std::size_t end = i + 1;
      if (ch == '$' && end < s.size() && s[end] == '(') {
        end = skip_command_substitution(s, i + 1);
      } else if (ch == '`') {
        const std::size_t close = s.find('`', i + 1);
        end = close == std::string_view::npos ? s.size() : close + 1;
      }
      w.text.append(s.substr(i, end - i));
      i = end;
      continue;
    }
    w.text += ch;
    ++i;
  }
  i = std::min(i, s.size());
  w.raw = s.substr(w.offset, i - w.offset);
  return w;
}

// Splits a script into simple commands of words. Redirections and
// comments are dropped.
std::vector<Command> simple_commands(std::string_view s) {
  std::vector<Command> out;
  Command cur;
  bool skip_next_word = false;  // the target of a redirection written apart: `> /dev/null`
  auto end_command = [&] {
    if (!cur.empty()) out.push_back(std::move(cur));
    cur.clear();
    skip_next_word = false;
  };
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (is_blank(c)) {
      ++i;
      continue;
    }
    if (c == '\\' && i + 1 < s.size() && s[i + 1] == '\n') {
      i += 2;
      continue;
    }
    if (ends_command(c)) {
      end_command();
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    // A redirection: [n]>file, [n]>>file, 2>&1, <file, <<EOF.
    std::size_t r = i;
    while (r < s.size() && is_digit(s[r])) ++r;
    if (r < s.size() && (s[r] == '<' || s[r] == '>')) {
      while (r < s.size() && (s[r] == '<' || s[r] == '>' || s[r] == '&' || s[r] == '-')) ++r;
      const std::size_t target = r;
      while (r < s.size() && !is_blank(s[r]) && !ends_command(s[r])) ++r;  // a target written attached: >/dev/null, >&2
      skip_next_word = r == target;  // `> /dev/null`: the target is the next word
      i = r;
      continue;
    }
    Word w = read_word(s, i);
    if (skip_next_word) {
      skip_next_word = false;
      continue;
    }
    cur.push_back(std::move(w));
  }
  end_command();
  return out;
}

std::string_view basename(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_assignment(std::string_view w) {
  const auto eq = w.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  return std::all_of(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(eq), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
  });
}

// How one package manager's command line reads.
struct ManagerSyntax {
  std::string_view name;
  std::vector<std::string_view> install;    // actions that install the named packages
  std::vector<std::string_view> group;      // actions that install groups
  std::vector<std::string_view> build_dep;  // actions that install build dependencies
  std::vector<std::string_view> remove;     // actions that remove the named packages
  std::vector<std::string_view> with_value; // options that take the next word as their value
  std::string_view version_marks;           // characters that start a version suffix
};

const std::vector<ManagerSyntax>& managers() {
  static const std::vector<ManagerSyntax> kManagers = [] {
    const ManagerSyntax apt{"apt-get", {"install"}, {}, {"build-dep"}, {"remove", "purge", "autoremove"},
                            {"-o", "-c", "-t", "--option", "--config-file", "--target-release", "--default-release"},
                            "=/:"};
    const ManagerSyntax dnf{"dnf", {"install", "reinstall", "localinstall"}, {"groupinstall"}, {"builddep"},
                            {"remove", "erase", "autoremove", "groupremove"},
                            {"-c", "--config", "--setopt", "--enablerepo", "--disablerepo", "--repo", "--repoid",
                             "--installroot", "--releasever", "-x", "--exclude", "--forcearch"},
                            ""};
    ManagerSyntax apt_ = apt, aptitude = apt, yum = dnf, microdnf = dnf, tdnf = dnf;
    apt_.name = "apt";
    aptitude.name = "aptitude";
    yum.name = "yum";
    microdnf.name = "microdnf";
    tdnf.name = "tdnf";
    const ManagerSyntax apk{"apk", {"add"}, {}, {}, {"del"},
                            {"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch", "--cache-dir",
                             "--keys-dir", "--repositories-file"},
                            "=<>~@"};
    const ManagerSyntax zypper{"zypper", {"install", "in"}, {}, {"source-install", "si"}, {"remove", "rm"},
                               {"-t", "--type", "-r", "--repo", "--from", "-R", "--root"}, "=<>"};
    return std::vector<ManagerSyntax>{apt, apt_, aptitude, dnf, yum, microdnf, tdnf, apk, zypper};
  }();
  return kManagers;
}

bool contains(const std::vector<std::string_view>& list, std::string_view w) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

std::string package_name(std::string_view word, std::string_view version_marks) {
  const auto cut = word.find_first_of(version_marks);
  return std::string(cut == std::string_view::npos || cut == 0 ? word : word.substr(0, cut));
}

// A local package file or URL, not a name to judge.
bool is_file_or_url(std::string_view w) {
  auto ends_with = [w](std::string_view suffix) {
    return w.size() >= suffix.size() && w.substr(w.size() - suffix.size()) == suffix;
  };
  return w.find("://") != std::string_view::npos || w.front() == '/' || w.front() == '.' || ends_with(".deb") ||
         ends_with(".rpm") || ends_with(".apk");
}

class Scanner {
 public:
  Scanner(const WordExpansion& expand, std::vector<PackageInstall>& out) : expand_(expand), out_(out) {}

  void script(std::string_view text, std::size_t index, std::size_t anchor, int depth) {
    for (const Command& c : simple_commands(text)) command(c, index, anchor, depth);
  }

 private:
  // `anchor` is npos for top-level scripts; for `sh -c '...'` it is the
  // offset of the quoted script, where its findings point.
  void command(const Command& words, std::size_t index, std::size_t anchor, int depth) {
    std::size_t i = 0;
    static const std::array<std::string_view, 10> kPrefixes = {"sudo", "env",  "nice", "nohup", "time",
                                                               "command", "exec", "then", "do", "else"};
    while (i < words.size()) {
      const std::string_view w = words[i].text;
      if (is_assignment(w) || w == "!" || w == "{" || w == "if" || w == "while" || w == "until") {
        ++i;
      } else if (std::find(kPrefixes.begin(), kPrefixes.end(), basename(w)) != kPrefixes.end()) {
        ++i;
        while (i < words.size() && !words[i].text.empty() && words[i].text.front() == '-') ++i;  // sudo -E, env -i
      } else {
        break;
      }
    }
    if (i >= words.size()) return;
    const std::string_view program = basename(words[i].text);
    if ((program == "sh" || program == "bash" || program == "ash" || program == "dash") && depth < 2) {
      for (std::size_t k = i + 1; k + 1 < words.size(); ++k) {
        if (words[k].text == "-c" || words[k].text == "-ec" || words[k].text == "-ex" || words[k].text == "-xc" ||
            words[k].text == "-exc" || words[k].text == "-euxc" || words[k].text == "-euc") {
          script(words[k + 1].text, index, anchor == std::string_view::npos ? words[k + 1].offset : anchor,
                 depth + 1);
          return;
        }
      }
      return;
    }
    for (const ManagerSyntax& m : managers()) {
      if (program == m.name) {
        managed(m, words, i + 1, index, anchor);
        return;
      }
    }
  }

  void managed(const ManagerSyntax& m, const Command& words, std::size_t i, std::size_t index, std::size_t anchor) {
    // The action: the first word that is not an option.
    std::string_view action;
    for (; i < words.size(); ++i) {
      const std::string_view w = words[i].text;
      if (!w.empty() && w.front() == '-') {
        if (contains(m.with_value, w)) ++i;
        continue;
      }
      action = w;
      ++i;
      break;
    }
    if ((m.name == "dnf" || m.name == "yum" || m.name == "microdnf" || m.name == "tdnf") && action == "group" &&
        i < words.size()) {
      action = words[i].text == "install" ? "groupinstall" : words[i].text == "remove" ? "groupremove" : "";
      ++i;
    }
    const bool installs = contains(m.install, action) || contains(m.group, action) || contains(m.build_dep, action);
    const bool removes = contains(m.remove, action);
    if (!installs && !removes) return;
    PackageInstall::Kind kind = PackageInstall::Kind::kPackage;
    if (contains(m.group, action)) kind = PackageInstall::Kind::kGroup;
    if (contains(m.build_dep, action)) kind = PackageInstall::Kind::kBuildDeps;
    std::string virtual_name;
    for (; i < words.size(); ++i) {
      const Word& word = words[i];
      std::string_view w = word.text;
      if (!w.empty() && w.front() == '-') {
        const bool virtual_opt = m.name == "apk" && (w == "-t" || w == "--virtual");
        const bool pattern_opt = m.name == "zypper" && (w == "-t" || w == "--type");
        if (w.substr(0, 10) == "--virtual=") virtual_name = std::string(w.substr(10));
        if (contains(m.with_value, w) && i + 1 < words.size()) {
          ++i;
          if (virtual_opt) virtual_name = words[i].text;
          if (pattern_opt && (words[i].text == "pattern" || words[i].text == "patch")) {
            kind = PackageInstall::Kind::kGroup;
          }
        }
        continue;
      }
      std::vector<std::string> names;
      if (word.dynamic) {
        const std::optional<std::string> expanded = expand_ ? expand_(word.raw) : std::nullopt;
        if (!expanded) continue;
        std::string cur;
        for (char c : *expanded + " ") {
          if (c == ' ' || c == '\t' || c == '\n') {
            if (!cur.empty()) names.push_back(std::move(cur));
            cur.clear();
          } else {
            cur += c;
          }
        }
      } else {
        names.emplace_back(w);
      }
      const std::size_t offset = anchor == std::string_view::npos ? word.offset : anchor;
      for (const std::string& n : names) {
        if (n.empty() || n.front() == '-') continue;
        if (!removes && kind == PackageInstall::Kind::kPackage && is_file_or_url(n)) continue;
        const std::string name = kind == PackageInstall::Kind::kGroup ? n : package_name(n, m.version_marks);
        if (removes) {
          remove(name);
        } else {
          out_.push_back(PackageInstall{std::string(m.name), name, kind, false, index, offset, {}});
          installed_.emplace(name, out_.size() - 1);
          if (!virtual_name.empty()) installed_.emplace(virtual_name, out_.size() - 1);
        }
      }
    }
  }

  // Marks what `name` installed so far as removed: the package, or the
  // members of an apk --virtual group of that name.
  void remove(const std::string& name) {
    const auto [first, last] = installed_.equal_range(name);
    for (auto it = first; it != last; ++it) out_[it->second].removed = true;
    installed_.erase(first, last);
  }

  const WordExpansion& expand_;
  std::vector<PackageInstall>& out_;
  // Package names and apk --virtual group names -> installs not yet removed.
  std::unordered_multimap<std::string, std::size_t> installed_;
};

}  // namespace

std::vector<PackageInstall> package_installs(const std::vector<std::string_view>& scripts, const WordExpansion& expand) {
  std::vector<PackageInstall> out;
  Scanner scanner(expand, out);
  for (std::size_t i = 0; i < scripts.size(); ++i) scanner.script(scripts[i], i, std::string_view::npos, 0);
  return out;
}

}  // namespace podguard

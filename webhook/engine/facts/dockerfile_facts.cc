#include "engine/facts/dockerfile_facts.h"

#include <algorithm>
#include <array>
#include <map>

#include "engine/reading/dockerfile_words.h"

namespace podguard {
namespace {

using VarMap = std::map<std::string, std::string, std::less<>>;

struct AutomaticArg {
  std::string_view name;
  std::string_view value;
};

// BuildKit defines these for every build; podguard judges for linux/amd64.
constexpr std::array<AutomaticArg, 8> kAutomaticArgs = {{
    {"TARGETPLATFORM", "linux/amd64"},
    {"TARGETOS", "linux"},
    {"TARGETARCH", "amd64"},
    {"TARGETVARIANT", ""},
    {"BUILDPLATFORM", "linux/amd64"},
    {"BUILDOS", "linux"},
    {"BUILDARCH", "amd64"},
    {"BUILDVARIANT", ""},
}};

std::optional<std::string_view> automatic_arg(std::string_view name) {
  for (const AutomaticArg& a : kAutomaticArgs) {
    if (a.name == name) return a.value;
  }
  return std::nullopt;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto low = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
           return low(x) == low(y);
         });
}

// Values FROM lines see: the ARGs before the first FROM.
class GlobalScope final : public VariableScope {
 public:
  explicit GlobalScope(const VarMap& globals) : globals_(globals) {}
  std::optional<std::string_view> value(std::string_view name) const override {
    if (auto it = globals_.find(name); it != globals_.end()) return it->second;
    return automatic_arg(name);
  }

 private:
  const VarMap& globals_;
};

class Analyzer {
 public:
  Analyzer(const Dockerfile& file, std::vector<DockerfileValue>& global_args, std::vector<DockerfileStage>& stages)
      : file_(file), global_args_(global_args), stages_(stages) {}

  void run() {
    for (std::size_t i = 0; i < file_.instructions.size(); ++i) {
      const Instruction& ins = file_.instructions[i];
      if (ins.keyword == "FROM") {
        start_stage(i);
      } else if (stages_.empty()) {
        if (ins.keyword == "ARG") global_arg(ins, i);
      } else {
        stage_instruction(ins, i);
      }
    }
    for (std::size_t s = 0; s < stages_.size(); ++s) {
      stages_[s].end = s + 1 < stages_.size() ? stages_[s + 1].from : file_.instructions.size();
    }
  }

 private:
  // Values inside a stage: ENV set so far in it or inherited through FROM
  // <stage> wins over ARG, as in Docker.
  class StageScope final : public VariableScope {
   public:
    StageScope(const Analyzer& a, std::size_t stage) : a_(a), stage_(stage) {}
    std::optional<std::string_view> value(std::string_view name) const override {
      for (std::optional<std::size_t> s = stage_; s; s = a_.stages_[*s].parent) {
        // A long FROM <stage> chain times many references: past the
        // budget, variables read as unset.
        if (++a_.lookup_steps_ > kMaxLookupSteps) return std::nullopt;
        if (auto it = a_.env_[*s].find(name); it != a_.env_[*s].end()) return it->second;
      }
      if (auto it = a_.args_[stage_].find(name); it != a_.args_[stage_].end()) return it->second;
      return std::nullopt;
    }

   private:
    const Analyzer& a_;
    std::size_t stage_;
  };

  ExpandedWord expand(std::string_view word, const VariableScope& scope) {
    ExpandedWord e = expand_word(word, file_.escape, scope, std::min(DockerfileFacts::kMaxExpandedBytes, budget_));
    budget_ -= std::min(budget_, e.text.size());
    return e;
  }

  static DockerfileValue value_of(std::string name, ExpandedWord e, std::size_t instruction, SourcePos pos) {
    DockerfileValue v;
    v.name = std::move(name);
    v.value = std::move(e.text);
    v.has_value = true;
    v.literal = e.literal;
    v.references = e.references;
    v.unset = std::move(e.unset);
    v.instruction = instruction;
    v.pos = pos;
    return v;
  }

  // NAME=value pairs of ENV, LABEL and ARG (BuildKit's parseNameVal); ENV
  // and LABEL also take the old `NAME value` form. Every value is
  // substituted with the variables in force before the instruction.
  std::vector<DockerfileValue> name_values(const Instruction& ins, std::size_t index, const VariableScope& scope) {
    std::vector<DockerfileValue> out;
    const bool arg = ins.keyword == "ARG";
    const std::string_view args = ins.args;
    const std::vector<WordSpan> words = split_words(args, file_.escape);
    if (words.empty()) return out;
    auto raw = [&](const WordSpan& w) { return args.substr(w.begin, w.end - w.begin); };
    if (!arg && raw(words[0]).find('=') == std::string_view::npos) {
      std::string_view rest = args.substr(words[0].end);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      out.push_back(value_of(expand(raw(words[0]), scope).text, expand(rest, scope), index,
                             ins.pos_at(words[0].begin)));
      return out;
    }
    for (const WordSpan& w : words) {
      const std::string_view word = raw(w);
      const auto eq = word.find('=');
      if (eq == std::string_view::npos) {
        if (!arg) continue;  // Docker refuses ENV/LABEL words without '='
        DockerfileValue v;
        v.name = std::string(word);
        v.instruction = index;
        v.pos = ins.pos_at(w.begin);
        out.push_back(std::move(v));
        continue;
      }
      std::string name = arg ? std::string(word.substr(0, eq)) : expand(word.substr(0, eq), scope).text;
      out.push_back(value_of(std::move(name), expand(word.substr(eq + 1), scope), index, ins.pos_at(w.begin)));
    }
    return out;
  }

  void global_arg(const Instruction& ins, std::size_t index) {
    const GlobalScope scope(globals_);
    for (DockerfileValue& v : name_values(ins, index, scope)) {
      if (v.has_value) globals_[v.name] = v.value;
      global_args_.push_back(std::move(v));
    }
  }

  void start_stage(std::size_t index) {
    const Instruction& ins = file_.instructions[index];
    DockerfileStage st;
    st.index = stages_.size();
    st.from = index;
    const std::vector<WordSpan> words = split_words(ins.args, file_.escape);
    if (!words.empty()) {
      const std::string_view args = ins.args;
      ExpandedWord e = expand(args.substr(words[0].begin, words[0].end - words[0].begin), GlobalScope(globals_));
      st.base = std::move(e.text);
      st.base_unset = std::move(e.unset);
      st.base_truncated = e.truncated;
      st.base_pos = ins.pos_at(words[0].begin);
      if (words.size() == 3) st.name = std::string(args.substr(words[2].begin, words[2].end - words[2].begin));
    }
    for (std::size_t k = 0; k < stages_.size(); ++k) {
      if (!stages_[k].name.empty() && iequals(stages_[k].name, st.base)) st.parent = k;
    }
    if (st.parent) {
      const DockerfileStage& p = stages_[*st.parent];
      st.user = p.user;
      st.healthcheck = p.healthcheck;
      st.entrypoint = p.entrypoint;
      st.cmd = p.cmd;
    }
    stages_.push_back(std::move(st));
    env_.emplace_back();
    args_.emplace_back();
    cmd_set_here_ = false;
  }

  void stage_instruction(const Instruction& ins, std::size_t index) {
    const std::size_t s = stages_.size() - 1;
    DockerfileStage& st = stages_[s];
    const StageScope scope(*this, s);
    const std::string& kw = ins.keyword;
    if (kw == "USER") {
      ExpandedWord e = expand(ins.args, scope);
      st.user = DockerfileUser{std::move(e.text), std::move(e.unset), index, s};
    } else if (kw == "HEALTHCHECK") {
      st.healthcheck = index;
    } else if (kw == "ENTRYPOINT") {
      st.entrypoint = index;
      if (!cmd_set_here_) st.cmd.reset();
    } else if (kw == "CMD") {
      st.cmd = index;
      cmd_set_here_ = true;
    } else if (kw == "ENV") {
      std::vector<DockerfileValue> values = name_values(ins, index, scope);
      for (DockerfileValue& v : values) {
        env_[s][v.name] = v.value;
        st.env.push_back(std::move(v));
      }
    } else if (kw == "LABEL") {
      for (DockerfileValue& v : name_values(ins, index, scope)) st.labels.push_back(std::move(v));
    } else if (kw == "ARG") {
      for (DockerfileValue& v : name_values(ins, index, scope)) {
        if (v.has_value) {
          args_[s][v.name] = v.value;
        } else if (auto g = globals_.find(v.name); g != globals_.end()) {
          args_[s][v.name] = v.value = g->second;  // redeclared: the global default comes into scope
        } else if (auto a = automatic_arg(v.name)) {
          args_[s][v.name] = v.value = std::string(*a);
        }
        st.args.push_back(std::move(v));
      }
    } else if (kw == "RUN") {
      st.runs.push_back(run_facts(ins, index, scope));
    }
  }

  DockerfileRun run_facts(const Instruction& ins, std::size_t index, const StageScope& scope) {
    DockerfileRun run;
    run.instruction = index;
    std::vector<std::string_view> scripts;
    std::string exec_script;
    if (ins.exec_form) {
      for (const std::string& a : ins.exec_args) {
        exec_script += exec_script.empty() ? "'" : " '";
        for (char c : a) exec_script += c == '\'' ? std::string("'\\''") : std::string(1, c);
        exec_script += '\'';
      }
      scripts.push_back(exec_script);
    } else {
      scripts.push_back(ins.args);
      for (const Heredoc& h : ins.heredocs) scripts.push_back(h.body);
    }
    const WordExpansion expand_package = [&](std::string_view raw) -> std::optional<std::string> {
      ExpandedWord e = expand(raw, scope);
      if (e.text.empty()) return std::nullopt;
      return std::move(e.text);
    };
    run.installs = package_installs(scripts, expand_package);
    for (PackageInstall& p : run.installs) {
      if (ins.exec_form) {
        p.pos = ins.pos;
      } else if (p.script == 0) {
        p.pos = ins.pos_at(p.offset);
      } else {
        p.pos = ins.heredocs[p.script - 1].pos_at(p.offset);
      }
    }
    return run;
  }

  const Dockerfile& file_;
  std::vector<DockerfileValue>& global_args_;
  std::vector<DockerfileStage>& stages_;
  VarMap globals_;
  std::vector<VarMap> env_;   // per stage: ENV set in it
  std::vector<VarMap> args_;  // per stage: ARGs in scope with a value
  bool cmd_set_here_ = false;
  std::size_t budget_ = DockerfileFacts::kMaxExpandedTotal;
  // Map lookups made for variables in stages, bounded (see StageScope).
  static constexpr std::size_t kMaxLookupSteps = 2'000'000;
  mutable std::size_t lookup_steps_ = 0;
};

}  // namespace

DockerfileFacts::DockerfileFacts(Dockerfile file) : file_(std::move(file)) {
  Analyzer(file_, global_args_, stages_).run();
}

std::vector<std::size_t> DockerfileFacts::lineage(std::size_t stage) const {
  std::vector<std::size_t> out;
  for (std::optional<std::size_t> s = stage; s; s = stages_[*s].parent) out.push_back(*s);
  return out;
}

const DockerfileStage& DockerfileFacts::root(std::size_t stage) const {
  std::size_t s = stage;
  while (stages_[s].parent) s = *stages_[s].parent;
  return stages_[s];
}

std::optional<std::size_t> DockerfileFacts::stage_of(std::size_t instruction) const {
  auto it = std::upper_bound(stages_.begin(), stages_.end(), instruction,
                             [](std::size_t i, const DockerfileStage& st) { return i < st.from; });
  if (it == stages_.begin()) return std::nullopt;
  return static_cast<std::size_t>(std::prev(it) - stages_.begin());
}

const DockerfileValue* DockerfileFacts::label(std::size_t stage, std::string_view name) const {
  for (std::size_t s : lineage(stage)) {
    const auto& labels = stages_[s].labels;
    for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
      if (it->name == name) return &*it;
    }
  }
  return nullptr;
}

const DockerfileValue* DockerfileFacts::global_arg(std::string_view name) const {
  for (auto it = global_args_.rbegin(); it != global_args_.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

}  // namespace podguard

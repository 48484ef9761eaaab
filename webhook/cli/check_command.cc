#include "cli/check_command.h"

#include <algorithm>
#include <atomic>
#include <iostream>
#include <numeric>
#include <set>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/dockerfile_check.h"
#include "cli/image_lookups.h"
#include "cli/manifest_files.h"
#include "cli/policy_file.h"
#include "engine/policy/config.h"
#include "engine/facts/workload.h"
#include "engine/reading/manifest_reader.h"

namespace podguard::cli {

CheckSummary CheckReport::summary() const {
  CheckSummary s;
  for (const CheckedObject& o : objects) {
    ++s.objects;
    if (!o.verdict.checked) {
      ++s.skipped;
      continue;
    }
    ++s.checked;
    const Action worst = o.verdict.worst();
    if (worst == Action::kDeny) ++s.denied;
    if (worst == Action::kWarn) ++s.warned;
    for (const Violation& v : o.verdict.violations) {
      if (v.action == Action::kDeny) ++s.deny_violations;
      if (v.action == Action::kWarn) ++s.warn_violations;
      if (v.action == Action::kAudit) ++s.audit_violations;
    }
    s.exemptions += o.verdict.exempted.size();
  }
  return s;
}

CLI::App* add_check_command(CLI::App& app, CheckOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "check", "Check Kubernetes manifests and Dockerfiles against the policy, as the webhook would");
  cmd->add_option("paths", options.paths,
                  "Files, directories (searched recursively for *.yaml, *.yml, *.json, Dockerfile, Containerfile, "
                  "*.Dockerfile and Dockerfile.*) or - for manifests on standard input")
      ->required();
  cmd->add_option("-c,--config", options.config_path,
                  "PolicyConfig file (default: the contract profile with its default actions)");
  add_report_options(cmd, options.output, options.fail_on);
  cmd->add_option("-n,--namespace", options.default_namespace,
                  "Namespace for objects that do not set metadata.namespace (as kubectl apply -n)")
      ->capture_default_str();
  cmd->add_option("-j,--jobs", options.jobs, "Parallel parsing threads (default: one per core)");
  // Two flags rather than CLI11's "--x,!--no-x" pair, which (in CLI11 2.1)
  // sets a std::optional to false when neither is given.
  CLI::Option* on = cmd->add_flag_callback(
      "--image-lookup", [&options] { options.image_lookup = true; },
      "Look the workloads' images up in their registries and judge them too (default: the config's images.lookup)");
  CLI::Option* off = cmd->add_flag_callback(
      "--no-image-lookup", [&options] { options.image_lookup = false; },
      "Judge the manifests alone, whatever the config's images.lookup says");
  on->excludes(off);
  return cmd;
}

namespace {

struct FileResult {
  std::vector<CheckedObject> objects;
  std::vector<Status> errors;
};

bool has_json_extension(const std::string& name) {
  return name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0;
}

bool before(const SourcePos& a, const SourcePos& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

// Orders violations by where they are in the file, so output reads top to
// bottom; ties keep the registry's rule order.
void sort_by_position(CheckedObject& o) {
  std::vector<std::size_t> order(o.verdict.violations.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&o](std::size_t a, std::size_t b) { return before(o.violation_pos[a], o.violation_pos[b]); });
  std::vector<Violation> violations;
  std::vector<SourcePos> positions;
  violations.reserve(order.size());
  positions.reserve(order.size());
  for (std::size_t i : order) {
    violations.push_back(std::move(o.verdict.violations[i]));
    positions.push_back(o.violation_pos[i]);
  }
  o.verdict.violations = std::move(violations);
  o.violation_pos = std::move(positions);
}

// Evaluates documents as the reader produces them; the items of a large
// JSON List arrive one at a time and are never all in memory.
class CheckingSink final : public DocumentSink {
 public:
  CheckingSink(const Policy& policy, const EvalOptions& eval, const std::string& file, FileResult& out)
      : policy_(policy), eval_(eval), file_(file), out_(out) {}

  void document(Document&& doc) override {
    evaluate(doc.value, {}, doc.positions, pending_document_);
    accept(pending_document_);
  }
  bool wants_items() const override { return true; }
  void begin_items() override { pending_.clear(); }
  void item(const Json& item, const FieldPath& root, const SourceMap& positions) override {
    evaluate(item, root, positions, pending_);
  }
  void end_items(bool is_list) override {
    if (is_list) accept(pending_);
    pending_.clear();
  }

 private:
  void evaluate(const Json& value, const FieldPath& root, const SourceMap& positions,
                std::vector<CheckedObject>& into) {
    for (ObjectVerdict& verdict : evaluate_document(policy_, value, eval_, root)) {
      CheckedObject o;
      o.file = file_;
      o.pos = positions.locate(verdict.root, {});
      for (const Violation& v : verdict.violations) o.violation_pos.push_back(positions.locate(verdict.root, v.path));
      for (const AppliedExemption& e : verdict.exempted) o.exemption_pos.push_back(positions.locate(verdict.root, e.path));
      for (const FieldTypeError& e : verdict.invalid) {
        o.invalid.push_back(
            Status(e.status).with_file(file_).at(positions.locate(verdict.root, e.path)).prefix(verdict.display_name() + " " + e.status.key()));
      }
      o.verdict = std::move(verdict);
      sort_by_position(o);
      into.push_back(std::move(o));
    }
  }

  // Objects whose fields the API server would not decode are input errors
  // (exit 2), reported where the field is.
  void accept(std::vector<CheckedObject>& objects) {
    for (CheckedObject& o : objects) {
      for (Status& e : o.invalid) out_.errors.push_back(std::move(e));
      o.invalid.clear();
      out_.objects.push_back(std::move(o));
    }
    objects.clear();
  }

  const Policy& policy_;
  const EvalOptions& eval_;
  const std::string& file_;
  FileResult& out_;
  std::vector<CheckedObject> pending_;           // List items until the List is confirmed
  std::vector<CheckedObject> pending_document_;  // one document's objects
};

void check_one(const Policy& policy, const ManifestInput& input, const EvalOptions& eval, FileResult& out) {
  Result<std::string> text = read_input(input);
  if (!text.ok()) {
    out.errors.push_back(text.error());
    return;
  }
  if (input.dockerfile) {
    check_dockerfile(policy, input.name, *text, eval, out.objects, out.errors);
    return;
  }
  const InputFormat format = has_json_extension(input.name) ? InputFormat::kJson : InputFormat::kAuto;
  CheckingSink sink(policy, eval, input.name, out);
  if (Status failed = read_documents(*text, format, ReadLimits{}, sink); !failed.ok()) {
    out.errors.push_back(std::move(failed).with_file(input.name));
  }
}

}  // namespace

CheckReport check_inputs(const Policy& policy, const std::vector<std::string>& paths, const EvalOptions& eval,
                         unsigned jobs) {
  ExpandedInputs expanded = expand_inputs(paths);
  CheckReport report;
  report.errors = std::move(expanded.errors);
  for (const auto& e : report.errors) report.files.push_back(e.file());
  for (const auto& in : expanded.inputs) report.files.push_back(in.name);

  std::vector<FileResult> results(expanded.inputs.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < expanded.inputs.size(); i = next++) {
      check_one(policy, expanded.inputs[i], eval, results[i]);
    }
  };
  if (jobs == 0) jobs = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t threads = std::min<std::size_t>(jobs, expanded.inputs.size());
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  for (FileResult& r : results) {
    std::move(r.objects.begin(), r.objects.end(), std::back_inserter(report.objects));
    std::move(r.errors.begin(), r.errors.end(), std::back_inserter(report.errors));
  }
  return report;
}

namespace {

// Collects the images of every workload it is given.
class ImageCollector final : public DocumentSink {
 public:
  explicit ImageCollector(std::vector<std::string>& out) : out_(out) {}
  void document(Document&& doc) override { collect(doc.value); }
  bool wants_items() const override { return true; }
  void item(const Json& item, const FieldPath&, const SourceMap&) override { collect(item); }

 private:
  // The objects judged of `value` (evaluate_document's), their images.
  void collect(const Json& value) {
    for_each_object(value, FieldPath(), [this](const Json& object, const FieldPath&) {
      for (const std::string_view image : podguard::workload_images(object)) {
        if (seen_.insert(std::string(image)).second) out_.emplace_back(image);
      }
    });
  }

  std::vector<std::string>& out_;
  std::set<std::string> seen_;
};

}  // namespace

std::vector<std::string> workload_images(const std::vector<std::string>& paths) {
  std::vector<std::string> images;
  ImageCollector collector(images);
  for (const ManifestInput& input : expand_inputs(paths).inputs) {
    if (input.dockerfile) continue;
    Result<std::string> text = read_input(input);
    if (!text.ok()) continue;
    const InputFormat format = has_json_extension(input.name) ? InputFormat::kJson : InputFormat::kAuto;
    ReadLimits limits;
    limits.record_positions = false;
    (void)read_documents(*text, format, limits, collector);  // errors: check_inputs reports them
  }
  return images;
}

namespace {

FailOn parse_fail_on(const std::string& s) {
  if (s == "warn") return FailOn::kWarn;
  if (s == "never") return FailOn::kNever;
  return FailOn::kDeny;
}

}  // namespace

int run_check(const CheckOptions& options) {
  std::optional<Policy> policy = load_policy_file(options.config_path);
  if (!policy) return 2;
  if (options.image_lookup) policy->images.lookup = *options.image_lookup;
  EvalOptions eval;
  eval.default_namespace = options.default_namespace;
  KnownImages known;
  if (policy->images.lookup) {
    Result<KnownImages> looked_up = look_up(*policy, workload_images(options.paths));
    if (!looked_up.ok()) {
      std::cerr << "podguard: error: images: " << looked_up.status().to_string() << "\n";
      return 2;
    }
    known = std::move(*looked_up);
    eval.images = &known;
  }
  const CheckReport report = check_inputs(*policy, options.paths, eval, options.jobs);
  return print_report(report, options.output, options.fail_on);
}

void add_report_options(CLI::App* cmd, std::string& output, std::string& fail_on) {
  cmd->add_option("-o,--output", output, "Output format")
      ->check(CLI::IsMember({"text", "json", "junit", "sarif"}))
      ->capture_default_str();
  cmd->add_option("--fail-on", fail_on, "Exit 1 when a violation at or above this action is found")
      ->check(CLI::IsMember({"deny", "warn", "never"}))
      ->capture_default_str();
}

int print_report(const CheckReport& report, const std::string& output, const std::string& fail_on) {
  const FailOn threshold = parse_fail_on(fail_on);
  // Input errors always reach stderr, whatever the output format, so a CI
  // log shows them next to the failing step.
  for (const Status& e : report.errors) {
    std::cerr << e.file();
    if (e.pos().known()) std::cerr << ":" << e.pos().line << ":" << e.pos().column;
    std::cerr << ": error: " << e.message() << "\n";
  }
  if (output == "json") {
    write_json(report, std::cout);
  } else if (output == "junit") {
    write_junit(report, threshold, std::cout);
  } else if (output == "sarif") {
    write_sarif(report, std::cout);
  } else {
    write_text(report, std::cout);
  }
  std::cout.flush();
  if (!report.errors.empty()) return 2;
  for (const CheckedObject& o : report.objects) {
    for (const Violation& v : o.verdict.violations) {
      if (fails(v.action, threshold)) return 1;
    }
  }
  return 0;
}

}  // namespace podguard::cli

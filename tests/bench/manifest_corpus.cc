// Benchmark helper for `podguard check`:
//   manifest_corpus generate DIR N   writes N mixed workload manifests as
//                                    DIR/yaml/NNNNN.yaml and the same objects
//                                    as one kubectl-style List, DIR/list.json
//   manifest_corpus parse DIR        parses every DIR/yaml file with
//                                    yaml-cpp's YAML::LoadAll, single thread:
//                                    the floor `check` is measured against
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

const char* kKinds[] = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "Deployment", "Deployment"};

Json container(std::mt19937& rng, int i, bool compliant) {
  const std::string name = i == 0 ? "app" : "sidecar-" + std::to_string(i);
  Json c = {{"name", name},
            {"image", compliant ? "ghcr.io/acme/" + name + ":3f9c2ab" : (rng() % 2 ? "nginx:latest" : "registry:5000/app")},
            {"ports", Json::array({{{"name", "http"}, {"containerPort", compliant ? 8000 : 80}, {"protocol", "TCP"}}})},
            {"env", Json::array({{{"name", "LOG_LEVEL"}, {"value", "info"}},
                                 {{"name", "JWT_EXPIRY_SECONDS"}, {"value", "3600"}},
                                 {{"name", "DATABASE_URL"},
                                  {"valueFrom", {{"secretKeyRef", {{"name", "db"}, {"key", "url"}}}}}}})}};
  Json token = {{"name", "API_TOKEN"}};
  if (compliant) {
    token["valueFrom"] = {{"secretKeyRef", {{"name", "api"}, {"key", "token"}}}};
  } else {
    token["value"] = "not-a-real-token";
  }
  c["env"].push_back(token);
  c["resources"] = {{"requests", {{"cpu", "250m"}, {"memory", "256Mi"}}}, {"limits", {{"memory", "512Mi"}}}};
  if (compliant) {
    c["livenessProbe"] = {{"httpGet", {{"path", "/api/v1/health"}, {"port", "http"}}}, {"periodSeconds", 10}};
    c["readinessProbe"] = {{"httpGet", {{"path", "/api/v1/health"}, {"port", "http"}}}, {"periodSeconds", 5}};
    c["securityContext"] = {{"allowPrivilegeEscalation", false},
                            {"readOnlyRootFilesystem", true},
                            {"capabilities", {{"drop", Json::array({"ALL"})}}}};
  } else {
    c["securityContext"] = {{"runAsUser", 0}};
  }
  c["volumeMounts"] = Json::array({{{"name", "tmp"}, {"mountPath", "/tmp"}}});
  return c;
}

Json pod_spec(std::mt19937& rng, bool compliant, bool batch) {
  Json containers = Json::array();
  const int n = 1 + static_cast<int>(rng() % 2);
  for (int i = 0; i < n; ++i) containers.push_back(container(rng, i, compliant));
  Json spec = {{"terminationGracePeriodSeconds", compliant ? 30 : 10},
               {"securityContext",
                {{"runAsNonRoot", true}, {"runAsUser", 1001}, {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
               {"containers", containers},
               {"volumes", Json::array({{{"name", "tmp"}, {"emptyDir", Json::object()}}})}};
  if (batch) spec["restartPolicy"] = "OnFailure";
  if (!compliant) spec["securityContext"].erase("runAsNonRoot");
  return spec;
}

Json object(std::mt19937& rng, std::size_t i) {
  const std::string kind = kKinds[i % (sizeof kKinds / sizeof kKinds[0])];
  const bool compliant = rng() % 3 != 0;
  const std::string name = "app-" + std::to_string(i);
  Json labels = {{"app.kubernetes.io/name", name}, {"app.kubernetes.io/part-of", "shop"}};
  Json meta = {{"name", name}, {"namespace", "team-" + std::to_string(i % 17)}, {"labels", labels}};
  const bool batch = kind == "Job" || kind == "CronJob";
  Json tmpl = {{"metadata", {{"labels", labels}}}, {"spec", pod_spec(rng, compliant, batch)}};
  std::string api = kind == "Pod" ? "v1" : (batch ? "batch/v1" : "apps/v1");
  Json obj = {{"apiVersion", api}, {"kind", kind}, {"metadata", meta}};
  if (kind == "Pod") {
    obj["spec"] = tmpl["spec"];
  } else if (kind == "CronJob") {
    obj["spec"] = {{"schedule", "0 3 * * *"}, {"jobTemplate", {{"spec", {{"template", tmpl}}}}}};
  } else if (kind == "Job") {
    obj["spec"] = {{"backoffLimit", 3}, {"template", tmpl}};
  } else {
    obj["spec"] = {{"selector", {{"matchLabels", labels}}}, {"template", tmpl}};
    if (kind != "DaemonSet") obj["spec"]["replicas"] = 3;
  }
  return obj;
}

void emit_yaml(const Json& v, int indent, std::ostream& out, bool in_list = false);

std::string scalar(const Json& v) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    // Quote what YAML would read as something else.
    const bool quote = s.empty() || s == "true" || s == "false" || s.find_first_of(":#{}[],&*!|>'\"%@`") != std::string::npos ||
                       (s[0] >= '0' && s[0] <= '9');
    return quote ? Json(s).dump() : s;
  }
  return v.dump();
}

void emit_yaml(const Json& v, int indent, std::ostream& out, bool in_list) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  bool first = true;
  if (v.is_object()) {
    for (const auto& [k, child] : v.items()) {
      out << (first && in_list ? "" : pad) << k << ":";
      first = false;
      if (child.is_object() && !child.empty()) {
        out << "\n";
        emit_yaml(child, indent + 2, out);
      } else if (child.is_array() && !child.empty()) {
        out << "\n";
        emit_yaml(child, indent, out);
      } else if (child.is_object()) {
        out << " {}\n";
      } else if (child.is_array()) {
        out << " []\n";
      } else {
        out << " " << scalar(child) << "\n";
      }
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      out << pad << "- ";
      if (item.is_object()) {
        emit_yaml(item, indent + 2, out, true);
      } else {
        out << scalar(item) << "\n";
      }
    }
  }
}

int generate(const fs::path& dir, std::size_t n) {
  fs::create_directories(dir / "yaml");
  std::mt19937 rng(42);
  Json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", Json::array()}};
  for (std::size_t i = 0; i < n; ++i) {
    Json obj = object(rng, i);
    char name[32];
    std::snprintf(name, sizeof name, "%05zu.yaml", i);
    std::ofstream out(dir / "yaml" / name);
    emit_yaml(obj, 0, out);
    list["items"].push_back(std::move(obj));
  }
  std::ofstream(dir / "list.json") << list.dump(4) << "\n";
  std::cout << "wrote " << n << " manifests to " << (dir / "yaml").string() << " and " << (dir / "list.json").string()
            << "\n";
  return 0;
}

int parse(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir / "yaml")) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const auto start = std::chrono::steady_clock::now();
  std::size_t objects = 0;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    objects += YAML::LoadAll(text.str()).size();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("yaml-cpp parse only: %zu objects in %.3f s = %.0f objects/s\n", objects, seconds,
              static_cast<double>(objects) / seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "generate" && argc == 4) return generate(argv[2], std::stoul(argv[3]));
  if (cmd == "parse" && argc == 3) return parse(argv[2]);
  std::cerr << "usage: manifest_corpus generate DIR N | manifest_corpus parse DIR\n";
  return 2;
}

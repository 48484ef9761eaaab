#include "engine/reading/image_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace podguard {
namespace {

using nlohmann::json;

// Reads the members of one JSON object into an ImageConfig; the first
// wrong type it meets is kept in `error` and later reads do nothing.
class ConfigFields {
 public:
  ConfigFields(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  // The member, or nullptr when absent or null.
  const json* find(const char* key) const {
    if (!obj_.is_object()) return nullptr;
    const auto it = obj_.find(key);
    return it == obj_.end() || it->is_null() ? nullptr : &*it;
  }

  void read(const char* key, std::string& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (v->is_string()) {
      out = v->get<std::string>();
    } else {
      fail(key, "is not a string");
    }
  }

  void read(const char* key, std::int64_t& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (v->is_number_integer()) {
      out = v->get<std::int64_t>();
    } else {
      fail(key, "is not an integer");
    }
  }

  void read(const char* key, bool& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (v->is_boolean()) {
      out = v->get<bool>();
    } else {
      fail(key, "is not true or false");
    }
  }

  void read(const char* key, std::optional<std::vector<std::string>>& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    std::vector<std::string> list;
    if (!strings(key, *v, list)) return;
    out = std::move(list);
  }

  // A JSON object whose values are strings, sorted by key.
  void read_string_map(const char* key, std::vector<std::pair<std::string, std::string>>& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_object()) return fail(key, "is not an object");
    for (const auto& [name, value] : v->items()) {
      if (!value.is_string()) return fail(key, "has a value that is not a string");
      out.emplace_back(name, value.get<std::string>());
    }
    std::sort(out.begin(), out.end());
  }

  // A JSON object used as a set ({"8080/tcp": {}}): its keys, sorted.
  void read_key_set(const char* key, std::vector<std::string>& out) {
    const json* v = find(key);
    if (v == nullptr) return;
    if (!v->is_object()) return fail(key, "is not an object");
    for (const auto& item : v->items()) out.push_back(item.key());
    std::sort(out.begin(), out.end());
  }

  bool strings(const char* key, const json& v, std::vector<std::string>& out) {
    if (!v.is_array()) {
      fail(key, "is not a list of strings");
      return false;
    }
    for (const json& item : v) {
      if (!item.is_string()) {
        fail(key, "is not a list of strings");
        return false;
      }
      out.push_back(item.get<std::string>());
    }
    return true;
  }

  void fail(const char* key, const char* what) {
    if (!error.ok()) return;
    // The key names the field; no value is quoted (it may be a secret).
    error = Status::invalid_input(std::string(what)).with_key(prefix_ + key);
  }

  Status error;

 private:
  const json& obj_;
  std::string prefix_;
};

Status read_container_config(const json& config, ImageConfig& out) {
  if (!config.is_object()) return Status::invalid_input("is not an object").with_key("config");
  ConfigFields f(config, "config.");
  f.read("User", out.user);
  if (const json* env = f.find("Env")) {
    std::vector<std::string> entries;
    if (f.strings("Env", *env, entries)) {
      for (const std::string& e : entries) {
        const auto eq = e.find('=');
        out.env.push_back(eq == std::string::npos ? ImageEnvVar{e, ""}
                                                  : ImageEnvVar{e.substr(0, eq), e.substr(eq + 1)});
      }
    }
  }
  f.read_string_map("Labels", out.labels);
  f.read("Entrypoint", out.entrypoint);
  f.read("Cmd", out.cmd);
  f.read("WorkingDir", out.working_dir);
  f.read_key_set("ExposedPorts", out.exposed_ports);
  f.read("StopSignal", out.stop_signal);
  if (const json* hc = f.find("Healthcheck")) {
    if (!hc->is_object()) {
      f.fail("Healthcheck", "is not an object");
    } else {
      ImageHealthcheck check;
      ConfigFields h(*hc, "config.Healthcheck.");
      std::optional<std::vector<std::string>> test;
      h.read("Test", test);
      if (test) check.test = std::move(*test);
      h.read("Interval", check.interval_ns);
      h.read("Timeout", check.timeout_ns);
      h.read("StartPeriod", check.start_period_ns);
      std::int64_t retries = 0;
      h.read("Retries", retries);
      check.retries = static_cast<int>(std::clamp<std::int64_t>(retries, 0, 1 << 30));
      if (!h.error.ok()) return h.error;
      out.healthcheck = std::move(check);
    }
  }
  return f.error;
}

Status read_history(const json& history, ImageConfig& out) {
  if (!history.is_array()) return Status::invalid_input("is not a list").with_key("history");
  for (std::size_t i = 0; i < history.size(); ++i) {
    const json& step = history[i];
    const std::string key = "history[" + std::to_string(i) + "].";
    if (!step.is_object()) return Status::invalid_input("is not an object").with_key(key.substr(0, key.size() - 1));
    ImageHistoryEntry entry;
    ConfigFields f(step, key);
    f.read("created_by", entry.created_by);
    f.read("comment", entry.comment);
    f.read("empty_layer", entry.empty_layer);
    if (!f.error.ok()) return f.error;
    out.history.push_back(std::move(entry));
  }
  return Status();
}

}  // namespace

const std::string* ImageConfig::label(std::string_view name) const {
  const auto it = std::lower_bound(labels.begin(), labels.end(), name,
                                   [](const auto& label, std::string_view n) { return label.first < n; });
  return it != labels.end() && it->first == name ? &it->second : nullptr;
}

Result<ImageConfig> parse_image_config(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    // The byte offset only: quoting the text could echo a secret from Env.
    return Status::invalid_input("the image config is not valid JSON (at byte " + std::to_string(e.byte) + ")");
  }
  if (!doc.is_object()) return Status::invalid_input("the image config is not a JSON object");
  ImageConfig out;
  ConfigFields top(doc, "");
  top.read("os", out.os);
  top.read("architecture", out.architecture);
  top.read("variant", out.variant);
  top.read("created", out.created);
  if (!top.error.ok()) return top.error;
  if (const json* config = top.find("config")) {
    if (Status s = read_container_config(*config, out); !s.ok()) return s;
  }
  if (const json* history = top.find("history")) {
    if (Status s = read_history(*history, out); !s.ok()) return s;
  }
  return out;
}

}  // namespace podguard

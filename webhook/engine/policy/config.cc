#include "engine/policy/config.h"

#include <algorithm>
#include <functional>
#include <sstream>

#include "engine/policy/glob.h"
#include "engine/reading/image_manifest.h"
#include "engine/reading/manifest_reader.h"

namespace podguard {
namespace {

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string type_name(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "a list";
    case Json::value_t::object:
      return "a map";
    default:
      return "a value";
  }
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "; did you mean \"x\"?" when a known word is close to what was written.
std::string suggestion(std::string_view written, const std::vector<std::string_view>& known) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, written.size() / 3) + 1;
  for (std::string_view k : known) {
    const std::size_t d = edit_distance(written, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best.empty() ? "" : "; did you mean " + in_quotes(best) + "?";
}

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::string_view w : words) {
    if (!out.empty()) out += ", ";
    out += w;
  }
  return out;
}

class ConfigReader {
 public:
  ConfigReader(const Document& doc, const RuleRegistry& registry) : doc_(doc), registry_(registry) {
    for (const Rule* r : registry_.rules()) rule_ids_.push_back(r->doc.id);
  }

  ConfigLoad run() {
    const Json& root = doc_.value;
    FieldPath top;
    if (!root.is_object()) {
      error(top, "the config must be a map with apiVersion, kind and profile, not " + type_name(root));
      return finish(Policy{});
    }
    check_keys(root, top, {"apiVersion", "kind", "profile", "rules", "overrides", "exemptions",
                           "allowAnnotationExemptions", "images"});
    check_constant(root, top, "apiVersion", kConfigApiVersion);
    check_constant(root, top, "kind", kConfigKind);

    Profile profile = Profile::kContract;
    if (const Json* p = find(root, "profile")) {
      const FieldPath at = top.key("profile");
      auto parsed = p->is_string() ? parse_profile(p->get<std::string>()) : std::nullopt;
      if (parsed) {
        profile = *parsed;
      } else {
        error(at, "profile must be one of contract, pss-baseline, pss-restricted; got " + describe(*p));
      }
    }
    Policy policy = Policy::defaults(registry_, profile);

    if (const Json* rules = find(root, "rules")) {
      read_rule_map(*rules, top.key("rules"), [&](std::size_t rule, std::optional<Action> action, Json params) {
        if (action) policy.rules[rule].action = *action;
        for (auto& [k, v] : params.items()) policy.rules[rule].params[k] = std::move(v);
      });
    }
    if (const Json* overrides = find(root, "overrides")) read_overrides(*overrides, top.key("overrides"), policy);
    if (const Json* exemptions = find(root, "exemptions")) {
      read_exemptions(*exemptions, top.key("exemptions"), policy);
    }
    if (const Json* allow = find(root, "allowAnnotationExemptions")) {
      if (allow->is_boolean()) {
        policy.allow_annotation_exemptions = allow->get<bool>();
      } else {
        error(top.key("allowAnnotationExemptions"), "expected true or false, got " + describe(*allow));
      }
    }
    if (const Json* images = find(root, "images")) read_images(*images, top.key("images"), policy.images);
    return finish(std::move(policy));
  }

 private:
  // The `images:` block (policy.h, ImageSettings).
  void read_images(const Json& v, const FieldPath& at, ImageSettings& out) {
    if (!expect_map(v, at, "images")) return;
    check_keys(v, at, {"lookup", "timeoutSeconds", "onError", "platforms", "credentials", "caFile",
                       "insecureRegistries", "mirrors", "cache"});
    if (const Json* lookup = find(v, "lookup")) {
      if (lookup->is_boolean()) {
        out.lookup = lookup->get<bool>();
      } else {
        error(at.key("lookup"), "expected true or false, got " + describe(*lookup));
      }
    }
    if (const Json* t = find(v, "timeoutSeconds")) {
      if (t->is_number() && t->get<double>() > 0 && t->get<double>() <= 30) {
        out.timeout_seconds = t->get<double>();
      } else {
        error(at.key("timeoutSeconds"),
              "expected a number of seconds above 0 and at most 30 (the API server waits 30 s for a webhook at "
              "most), got " + describe(*t));
      }
    }
    if (const Json* e = find(v, "onError")) {
      const std::string s = e->is_string() ? e->get<std::string>() : std::string();
      if (s == "allow") {
        out.on_error = ImageSettings::OnError::kAllow;
      } else if (s == "warn") {
        out.on_error = ImageSettings::OnError::kWarn;
      } else if (s == "deny") {
        out.on_error = ImageSettings::OnError::kDeny;
      } else {
        error(at.key("onError"), "onError must be one of allow, warn, deny; got " + describe(*e));
      }
    }
    if (const Json* p = find(v, "platforms")) read_image_platforms(*p, at.key("platforms"), out);
    for (auto [key, field] : {std::pair{"credentials", &out.credentials}, std::pair{"caFile", &out.ca_file}}) {
      if (const Json* s = find(v, key)) {
        if (s->is_string() && !s->get<std::string>().empty()) {
          *field = s->get<std::string>();
        } else {
          error(at.key(key), "expected the path of a file, got " + describe(*s));
        }
      }
    }
    if (const Json* r = find(v, "insecureRegistries")) out.insecure_registries = strings(*r, at.key("insecureRegistries"), false);
    if (const Json* m = find(v, "mirrors")) read_image_mirrors(*m, at.key("mirrors"), out);
    if (const Json* c = find(v, "cache")) read_image_cache(*c, at.key("cache"), out);
  }

  void read_image_platforms(const Json& p, const FieldPath& p_at, ImageSettings& out) {
    const std::size_t before = errors_.size();
    std::vector<std::string> list = strings(p, p_at, false);
    if (errors_.size() == before) {
      for (std::size_t i = 0; i < list.size(); ++i) {
        Result<ImagePlatform> parsed = parse_platform(list[i]);
        if (!parsed.ok()) {
          error(p_at.index(i), "bad platform " + in_quotes(list[i]) + ": " + parsed.status().message() +
                                   " (write os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8)");
        }
      }
      out.platforms = std::move(list);
    }
  }

  void read_image_mirrors(const Json& m, const FieldPath& m_at, ImageSettings& out) {
    if (expect_map(m, m_at, "mirrors")) {
      for (const auto& [registry, mirror] : m.items()) {
        if (mirror.is_string() && !mirror.get<std::string>().empty() && !registry.empty()) {
          out.mirrors.emplace_back(std::string(registry), mirror.get<std::string>());
        } else {
          error(m_at.key(registry), "expected the mirror's host[:port][/path], got " + describe(mirror));
        }
      }
    }
  }

  void read_image_cache(const Json& c, const FieldPath& c_at, ImageSettings& out) {
    if (expect_map(c, c_at, "cache")) {
      check_keys(c, c_at, {"tagTtlSeconds", "errorTtlSeconds", "maxEntries"});
      auto integer = [&](const char* key, std::int64_t min, std::int64_t max) -> std::optional<std::int64_t> {
        const Json* n = find(c, key);
        if (n == nullptr) return std::nullopt;
        if (n->is_number_integer() && !(n->is_number_unsigned() && n->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) &&
            n->get<std::int64_t>() >= min && n->get<std::int64_t>() <= max) {
          return n->get<std::int64_t>();
        }
        error(c_at.key(key), "expected an integer between " + std::to_string(min) + " and " + std::to_string(max) +
                                 ", got " + describe(*n));
        return std::nullopt;
      };
      if (auto n = integer("tagTtlSeconds", 0, 86400)) out.tag_ttl_seconds = static_cast<int>(*n);
      if (auto n = integer("errorTtlSeconds", 0, 86400)) out.error_ttl_seconds = static_cast<int>(*n);
      if (auto n = integer("maxEntries", 1, 10000000)) out.max_entries = *n;
    }
  }

  using RuleCallback = std::function<void(std::size_t, std::optional<Action>, Json)>;

  static const Json* find(const Json& obj, std::string_view key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  static std::string describe(const Json& v) {
    if (v.is_string()) return in_quotes(v.get<std::string>());
    if (v.is_primitive()) return std::string(v.dump());
    return type_name(v);
  }

  void error(const FieldPath& at, std::string message) {
    errors_.push_back(Status::invalid_input(std::move(message))
                          .at(doc_.positions.locate({}, at))
                          .with_key(at.empty() ? "(top level)" : at.str()));
  }

  ConfigLoad finish(Policy policy) {
    ConfigLoad out;
    if (errors_.empty()) {
      out.policy = std::move(policy);
    } else {
      std::stable_sort(errors_.begin(), errors_.end(), [](const Status& a, const Status& b) {
        return a.pos().line != b.pos().line ? a.pos().line < b.pos().line : a.pos().column < b.pos().column;
      });
      out.errors = std::move(errors_);
    }
    return out;
  }

  void check_keys(const Json& obj, const FieldPath& at, std::initializer_list<std::string_view> allowed) {
    const std::vector<std::string_view> known(allowed);
    for (const auto& [k, v] : obj.items()) {
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        error(at.key(k), "unknown key " + in_quotes(k) + suggestion(k, known) + " (allowed: " + join(known) + ")");
      }
    }
  }

  void check_constant(const Json& obj, const FieldPath& at, std::string_view key, std::string_view want) {
    const Json* v = find(obj, key);
    if (v == nullptr) {
      error(at, std::string(key) + " is required; set " + std::string(key) + ": " + std::string(want));
    } else if (!v->is_string() || v->get<std::string>() != want) {
      error(at.key(key), std::string(key) + " must be " + std::string(want) + ", got " + describe(*v));
    }
  }

  bool expect_map(const Json& v, const FieldPath& at, std::string_view what) {
    if (v.is_object()) return true;
    error(at, std::string(what) + " must be a map, got " + type_name(v));
    return false;
  }

  bool expect_list(const Json& v, const FieldPath& at, std::string_view what) {
    if (v.is_array()) return true;
    error(at, std::string(what) + " must be a list, got " + type_name(v));
    return false;
  }

  // A list of non-empty strings; each is validated as a glob when `globs`.
  std::vector<std::string> strings(const Json& v, const FieldPath& at, bool globs) {
    std::vector<std::string> out;
    if (!expect_list(v, at, at.segments().back().key)) return out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const Json& item = v[i];
      if (!item.is_string() || item.get<std::string>().empty()) {
        error(at.index(i), "expected a non-empty string, got " + describe(item));
        continue;
      }
      const std::string_view s = item.get_ref<const JsonString&>();
      if (globs) {
        if (auto problem = glob_error(s)) {
          error(at.index(i), "bad pattern " + in_quotes(s) + ": " + *problem);
          continue;
        }
      }
      out.emplace_back(s);
    }
    return out;
  }

  std::optional<Action> action(const Json& v, const FieldPath& at) {
    // YAML 1.1 reads a bare `off` as false, so accept false as off.
    if (v.is_boolean() && !v.get<bool>()) return Action::kOff;
    if (v.is_string()) {
      if (auto a = parse_action(v.get<std::string>())) return a;
    }
    error(at, "action must be one of deny, warn, audit, off; got " + describe(v));
    return std::nullopt;
  }

  std::optional<Json> param(const ParamSpec& spec, const Json& v, const FieldPath& at) {
    switch (spec.type) {
      case ParamType::kBool:
        if (v.is_boolean()) return v;
        error(at, "expected true or false, got " + describe(v));
        return std::nullopt;
      case ParamType::kInt:
        if (v.is_number_integer()) {
          const bool too_big = v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX);
          const std::int64_t n = too_big ? INT64_MAX : v.get<std::int64_t>();
          if (n >= spec.min && n <= spec.max) return Json(n);
          error(at, "must be between " + std::to_string(spec.min) + " and " + std::to_string(spec.max) + ", got " +
                        (too_big ? std::string(v.dump()) : std::to_string(n)));
          return std::nullopt;
        }
        error(at, "expected an integer, got " + describe(v));
        return std::nullopt;
      case ParamType::kStringList:
      case ParamType::kGlobList: {
        const std::size_t before = errors_.size();
        auto list = strings(v, at, spec.type == ParamType::kGlobList);
        if (errors_.size() != before) return std::nullopt;
        return Json(list);
      }
    }
    return std::nullopt;
  }

  void read_rule_map(const Json& rules, const FieldPath& at, const RuleCallback& apply) {
    if (!expect_map(rules, at, "rules")) return;
    for (const auto& [id, setting] : rules.items()) {
      const FieldPath rule_at = at.key(id);
      auto index = registry_.index_of(id);
      if (!index) {
        error(rule_at, "unknown rule " + in_quotes(id) + suggestion(id, rule_ids_) + "; `podguard rules` lists them");
        continue;
      }
      const Rule& rule = registry_.at(*index);
      // Shorthand: `resources-required: off`.
      if (!setting.is_object()) {
        if (auto a = action(setting, rule_at)) apply(*index, a, Json::object());
        continue;
      }
      std::optional<Action> act;
      Json params = Json::object();
      for (const auto& [key, value] : setting.items()) {
        const FieldPath key_at = rule_at.key(key);
        if (key == "action") {
          act = action(value, key_at);
          continue;
        }
        const std::string_view name = key;  // structured bindings cannot be captured before C++20 in clang 14
        auto spec = std::find_if(rule.doc.params.begin(), rule.doc.params.end(),
                                 [&name](const ParamSpec& p) { return p.name == name; });
        if (spec == rule.doc.params.end()) {
          std::vector<std::string_view> known{"action"};
          for (const auto& p : rule.doc.params) known.push_back(p.name);
          error(key_at, "unknown key " + in_quotes(std::string(key)) + " for rule " + std::string(id) +
                            suggestion(key, known) + " (allowed: " + join(known) + ")");
          continue;
        }
        if (auto v = param(*spec, value, key_at)) params[key] = std::move(*v);
      }
      apply(*index, act, std::move(params));
    }
  }

  void read_overrides(const Json& list, const FieldPath& at, Policy& policy) {
    if (!expect_list(list, at, "overrides")) return;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Json& item = list[i];
      const FieldPath item_at = at.index(i);
      if (!expect_map(item, item_at, "an override")) continue;
      check_keys(item, item_at, {"namespaces", "rules"});
      NamespaceOverride o;
      o.pos = doc_.positions.locate({}, item_at);
      const Json* ns = find(item, "namespaces");
      if (ns != nullptr) o.namespaces = strings(*ns, item_at.key("namespaces"), true);
      if (ns == nullptr || (ns->is_array() && ns->empty())) {
        error(item_at, "an override needs a non-empty namespaces list");
      }
      if (const Json* rules = find(item, "rules")) {
        read_rule_map(*rules, item_at.key("rules"), [&o](std::size_t rule, std::optional<Action> a, Json params) {
          o.changes.push_back(NamespaceOverride::Change{rule, a, std::move(params)});
        });
      } else {
        error(item_at, "an override needs a rules map");
      }
      policy.overrides.push_back(std::move(o));
    }
  }

  void read_exemptions(const Json& list, const FieldPath& at, Policy& policy) {
    if (!expect_list(list, at, "exemptions")) return;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Json& item = list[i];
      const FieldPath item_at = at.index(i);
      if (!expect_map(item, item_at, "an exemption")) continue;
      check_keys(item, item_at, {"rules", "namespaces", "names", "containers", "images", "reason", "expires"});
      Exemption e;
      e.pos = doc_.positions.locate({}, item_at);
      if (const Json* rules = find(item, "rules")) {
        const FieldPath rules_at = item_at.key("rules");
        auto ids = strings(*rules, rules_at, false);
        for (std::size_t j = 0; j < ids.size(); ++j) {
          if (auto index = registry_.index_of(ids[j])) {
            e.rules.push_back(*index);
          } else {
            error(rules_at.index(j), "unknown rule " + in_quotes(ids[j]) + suggestion(ids[j], rule_ids_));
          }
        }
        if (rules->is_array() && rules->empty()) {
          error(rules_at, "rules is empty; leave it out to exempt from every rule");
        }
      }
      struct Selector {
        std::string_view key;
        std::vector<std::string>* target;
      };
      for (const Selector& s : {Selector{"namespaces", &e.namespaces}, Selector{"names", &e.names},
                                Selector{"containers", &e.containers}, Selector{"images", &e.images}}) {
        if (const Json* v = find(item, s.key)) *s.target = strings(*v, item_at.key(s.key), true);
      }
      if (e.namespaces.empty() && e.names.empty() && e.containers.empty() && e.images.empty()) {
        error(item_at,
              "an exemption needs at least one of namespaces, names, containers or images; "
              "to turn a rule off everywhere set its action to off under rules");
      }
      const Json* reason = find(item, "reason");
      if (reason == nullptr) {
        error(item_at, "an exemption needs a reason, so the audit trail says why it exists");
      } else if (!reason->is_string() || reason->get<std::string>().empty()) {
        error(item_at.key("reason"), "reason must be a non-empty string, got " + describe(*reason));
      } else {
        e.reason = reason->get<std::string>();
      }
      if (const Json* expires = find(item, "expires")) {
        auto day = expires->is_string() ? parse_day(expires->get<std::string>()) : std::nullopt;
        if (day) {
          e.expires = day;
        } else {
          error(item_at.key("expires"), "expires must be a date written YYYY-MM-DD, got " + describe(*expires));
        }
      }
      policy.exemptions.push_back(std::move(e));
    }
  }

  const Document& doc_;
  const RuleRegistry& registry_;
  std::vector<std::string_view> rule_ids_;
  std::vector<Status> errors_;
};

}  // namespace

ConfigLoad load_config(std::string_view text, const RuleRegistry& registry) {
  ReadResult read = read_documents(text, InputFormat::kYaml);
  ConfigLoad out;
  if (!read.error.ok()) {
    out.errors.push_back(Status(read.error).with_key("(syntax)"));
    return out;
  }
  if (read.documents.empty()) {
    out.errors.push_back(Status::invalid_input("the config is empty; it needs at least apiVersion: " +
                                               std::string(kConfigApiVersion) + " and kind: " + std::string(kConfigKind))
                             .at({1, 1})
                             .with_key("(top level)"));
    return out;
  }
  if (read.documents.size() > 1) {
    out.errors.push_back(Status::invalid_input("the config must be a single YAML document, found " +
                                               std::to_string(read.documents.size()))
                             .at(read.documents[1].start)
                             .with_key("(top level)"));
    return out;
  }
  return ConfigReader(read.documents.front(), registry).run();
}

std::string format_config_errors(std::string_view source_name, const std::vector<Status>& errors) {
  std::string out;
  for (const Status& e : errors) out += Status(e).with_file(source_name).to_string() + "\n";
  return out;
}

}  // namespace podguard

#include <doctest/doctest.h>

#include <limits>
#include <memory>
#include <string>

#include "engine/admission/admission.h"
#include "engine/reading/manifest_reader.h"

namespace podguard {
namespace {

SourcePos at(const Document& doc, const FieldPath& path) { return doc.positions.locate({}, path); }

FieldPath p(std::initializer_list<std::string> keys) {
  FieldPath out;
  for (const auto& k : keys) {
    if (!k.empty() && k.front() == '#') {
      out.push_index(std::stoul(k.substr(1)));
    } else {
      out.push_key(k);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("multi-document YAML keeps documents in order and drops empty ones") {
  const ReadResult r = read_documents("---\na: 1\n---\n---\n# only a comment\n---\nb: 2\n...\n");
  REQUIRE(r.error.ok());
  REQUIRE(r.documents.size() == 2);
  CHECK(r.documents[0].value == Json{{"a", 1}});
  CHECK(r.documents[1].value == Json{{"b", 2}});
}

TEST_CASE("YAML positions point at keys and list items, 1-based") {
  const std::string text =
      "apiVersion: v1\n"
      "kind: Pod\n"
      "spec:\n"
      "  containers:\n"
      "  - name: app\n"
      "    securityContext:\n"
      "      runAsUser: 0\n"
      "  - name: side\n";
  const ReadResult r = read_documents(text);
  REQUIRE(r.error.ok());
  const Document& d = r.documents.at(0);
  CHECK(at(d, p({"kind"})).line == 2);
  CHECK(at(d, p({"kind"})).column == 1);
  const SourcePos first = at(d, p({"spec", "containers", "#0"}));
  CHECK(first.line == 5);
  CHECK(first.column == 5);
  const SourcePos uid = at(d, p({"spec", "containers", "#0", "securityContext", "runAsUser"}));
  CHECK(uid.line == 7);
  CHECK(uid.column == 7);
  CHECK(at(d, p({"spec", "containers", "#1", "name"})).line == 8);
  SUBCASE("a missing field points at its nearest existing parent") {
    const SourcePos missing = at(d, p({"spec", "containers", "#1", "securityContext", "runAsUser"}));
    CHECK(missing.line == 8);
  }
}

TEST_CASE("plain scalars resolve as kubectl's YAML 1.1 reader does") {
  const ReadResult r = read_documents(
      "t1: true\nt2: yes\nt3: On\nf1: no\nf2: off\nn1: ~\nn2: null\nn3:\n"
      "i1: 42\ni2: -7\ni3: 0x1F\ni4: 0644\ni5: 0b101\ni6: 1_000\n"
      "fl: 1.5\nexp: 1e3\ninf: .inf\n"
      "s1: '42'\ns2: \"true\"\ns3: hello\ns4: 1.2.3\ns5: 2027-03-31\ns6: -x\n"
      "block: |\n  yes\n"
      "tagged: !!str 12\nbig: 18446744073709551615\n");
  REQUIRE(r.error.ok());
  const Json& v = r.documents.at(0).value;
  CHECK(v["t1"] == true);
  CHECK(v["t2"] == true);
  CHECK(v["t3"] == true);
  CHECK(v["f1"] == false);
  CHECK(v["f2"] == false);
  CHECK(v["n1"].is_null());
  CHECK(v["n2"].is_null());
  CHECK(v["n3"].is_null());
  CHECK(v["i1"] == 42);
  CHECK(v["i2"] == -7);
  CHECK(v["i3"] == 31);
  CHECK(v["i4"] == 420);
  CHECK(v["i5"] == 5);
  CHECK(v["i6"] == 1000);
  CHECK(v["fl"] == 1.5);
  CHECK(v["exp"] == 1000.0);
  CHECK(v["inf"].get<double>() == std::numeric_limits<double>::infinity());
  CHECK(v["s1"] == "42");
  CHECK(v["s2"] == "true");
  CHECK(v["s3"] == "hello");
  CHECK(v["s4"] == "1.2.3");
  CHECK(v["s5"] == "2027-03-31");
  CHECK(v["s6"] == "-x");
  CHECK(v["block"] == "yes\n");
  CHECK(v["tagged"] == "12");
  CHECK(v["big"].is_number_unsigned());
}

TEST_CASE("anchors, aliases and merge keys are expanded") {
  const ReadResult r = read_documents(
      "base: &sc {runAsUser: 1001, runAsNonRoot: true}\n"
      "copy: *sc\n"
      "merged:\n  <<: *sc\n  runAsUser: 2000\n"
      "list: &l [a, b]\nagain: *l\n");
  REQUIRE(r.error.ok());
  const Json& v = r.documents.at(0).value;
  CHECK(v["copy"] == v["base"]);
  CHECK(v["merged"]["runAsUser"] == 2000);  // written keys win over merged ones
  CHECK(v["merged"]["runAsNonRoot"] == true);
  CHECK(v["again"] == Json::array({"a", "b"}));
}

TEST_CASE("an alias bomb is an error, not an out-of-memory kill") {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) text += std::string(j ? ", " : "") + "*a" + std::to_string(i - 1);
    text += "]\n";
  }
  ReadLimits limits;
  limits.max_nodes = 100'000;
  const ReadResult r = read_documents(text, InputFormat::kYaml, limits);
  REQUIRE_FALSE(r.error.ok());
  CHECK(r.error.message().find("nodes") != std::string::npos);
  CHECK(r.error.pos().line > 1);
}

TEST_CASE("deep nesting is rejected with a position") {
  std::string text;
  for (int i = 0; i < 300; ++i) text += "[";
  for (int i = 0; i < 300; ++i) text += "]";
  for (InputFormat f : {InputFormat::kYaml, InputFormat::kJson}) {
    const ReadResult r = read_documents(text, f);
    REQUIRE_FALSE(r.error.ok());
    CHECK(r.error.message().find("deeper") != std::string::npos);
  }
}

TEST_CASE("duplicate keys are errors that point at the second key") {
  const ReadResult y = read_documents("a: 1\nb:\n  c: 1\n  c: 2\n");
  REQUIRE_FALSE(y.error.ok());
  CHECK(y.error.message() == "duplicate key \"c\"");
  CHECK(y.error.pos().line == 4);
  const ReadResult j = read_documents("{\"a\": 1,\n \"a\": 2}", InputFormat::kJson);
  REQUIRE_FALSE(j.error.ok());
  CHECK(j.error.message() == "duplicate key \"a\"");
  CHECK(j.error.pos().line == 2);
}

TEST_CASE("a YAML syntax error keeps the documents before it and names the line") {
  const ReadResult r = read_documents("a: 1\n---\nb: [1, 2\n---\nc: 3\n");
  REQUIRE_FALSE(r.error.ok());
  CHECK(r.documents.size() == 1);
  CHECK(r.error.pos().line >= 3);
  CHECK_FALSE(r.error.message().empty());
}

TEST_CASE("JSON positions and values") {
  const std::string text =
      "{\n"
      "  \"kind\": \"Pod\",\n"
      "  \"spec\": {\"containers\": [\n"
      "    {\"name\": \"a\\\"b\", \"ports\": [80, 443]},\n"
      "    {\"name\": \"c\"}\n"
      "  ]}\n"
      "}\n";
  const ReadResult r = read_documents(text);
  REQUIRE(r.error.ok());
  const Document& d = r.documents.at(0);
  CHECK(d.value["spec"]["containers"][0]["name"] == "a\"b");
  CHECK(at(d, p({"kind"})).line == 2);
  CHECK(at(d, p({"kind"})).column == 3);
  CHECK(at(d, p({"spec", "containers", "#0"})).line == 4);
  CHECK(at(d, p({"spec", "containers", "#0"})).column == 5);
  CHECK(at(d, p({"spec", "containers", "#0", "ports", "#1"})).column == 36);
  CHECK(at(d, p({"spec", "containers", "#1", "name"})).line == 5);
}

TEST_CASE("a stream of JSON values is several documents") {
  const ReadResult r = read_documents("{\"a\": 1}\n{\"b\": 2} {\"c\": 3}\n", InputFormat::kJson);
  REQUIRE(r.error.ok());
  REQUIRE(r.documents.size() == 3);
  CHECK(r.documents[1].start.line == 2);
  CHECK(r.documents[2].start.column == 10);
}

TEST_CASE("JSON errors have a line and a column and a readable message") {
  const ReadResult r = read_documents("{\n  \"a\": 1,\n  \"b\": tru\n}\n", InputFormat::kJson);
  REQUIRE_FALSE(r.error.ok());
  CHECK(r.error.pos().line == 3);
  CHECK(r.error.message().find("json.exception") == std::string::npos);
  CHECK(r.error.message() == "unexpected 't'; expected a value");
  CHECK(r.error.pos().column == 8);
}

TEST_CASE("JSON strings: quotes, escapes, control bytes and UTF-8 found at every offset of a long run") {
  // The string scanner reads eight bytes at a time; each special byte is
  // tried at every position of a word and near the end of the input.
  for (std::size_t at = 0; at < 20; ++at) {
    CAPTURE(at);
    const std::string before(at, 'a'), after(19 - at, 'b');
    const ReadResult quoted = read_documents("{\"k\":\"" + before + "\\\"" + after + "\"}", InputFormat::kJson);
    REQUIRE(quoted.error.ok());
    CHECK(quoted.documents[0].value["k"] == before + "\"" + after);
    const ReadResult ended = read_documents("{\"k\":\"" + before + "\",\"z\":\"" + after + "\"}", InputFormat::kJson);
    REQUIRE(ended.error.ok());
    CHECK(ended.documents[0].value["k"] == before);
    const ReadResult control = read_documents("{\"k\":\"" + before + "\t" + after + "\"}", InputFormat::kJson);
    REQUIRE_FALSE(control.error.ok());
    CHECK(control.error.message().find("control character") != std::string::npos);
    const ReadResult utf8 = read_documents("{\"k\":\"" + before + "\xc3\xa9" + after + "\"}", InputFormat::kJson);
    REQUIRE(utf8.error.ok());
    CHECK(utf8.documents[0].value["k"] == before + "\xc3\xa9" + after);
    const ReadResult bad_utf8 = read_documents("{\"k\":\"" + before + "\xc3(" + after + "\"}", InputFormat::kJson);
    REQUIRE_FALSE(bad_utf8.error.ok());
    const ReadResult unterminated = read_documents("\"" + before + after, InputFormat::kJson);
    REQUIRE_FALSE(unterminated.error.ok());
  }
}

TEST_CASE("auto-detection: JSON when it parses as JSON, else YAML flow style") {
  const ReadResult json = read_documents("  {\"a\": [1]}");
  REQUIRE(json.error.ok());
  CHECK(json.documents.at(0).value == Json{{"a", {1}}});
  const ReadResult flow = read_documents("{a: b, c: [d]}\n");
  REQUIRE(flow.error.ok());
  CHECK(flow.documents.at(0).value == Json{{"a", "b"}, {"c", {"d"}}});
  const ReadResult broken = read_documents("{\"a\": [}");
  CHECK_FALSE(broken.error.ok());
}

TEST_CASE("a UTF-8 byte order mark is ignored") {
  CHECK(read_documents("\xEF\xBB\xBF{\"a\": 1}").documents.at(0).value == Json{{"a", 1}});
  CHECK(read_documents("\xEF\xBB\xBF" "a: 1\n").documents.at(0).value == Json{{"a", 1}});
}

TEST_CASE("hostile and odd input never throws") {
  const char* inputs[] = {"",          "\0\0\0",       ":",           "- - - -",    "{",        "[[[",
                          "a: *nope",  "? [a]\n: b\n", "!!int abc",  "key: !!bool maybe", "\t\tx: y", "a:\n\t- b"};
  for (const char* in : inputs) {
    CHECK_NOTHROW(read_documents(in));
  }
  CHECK_FALSE(read_documents("a: *nope").error.ok());
  CHECK_FALSE(read_documents("? [a]\n: b\n").error.ok());
  CHECK_FALSE(read_documents("key: !!int abc\n").error.ok());
}

}  // namespace podguard

namespace podguard {
namespace {

// Records what a streaming reader passes on.
class RecordingSink final : public DocumentSink {
 public:
  void document(Document&& doc) override { events.push_back("document " + doc.value.value("kind", std::string("?"))); }
  bool wants_items() const override { return true; }
  void begin_items() override { events.push_back("begin"); }
  void item(const Json& item, const FieldPath& root, const SourceMap& positions) override {
    events.push_back("item " + root.str() + " " + item.value("kind", std::string("?")) + " line " +
                     std::to_string(positions.locate(root, FieldPath().key("kind")).line));
  }
  void end_items(bool is_list) override { events.push_back(is_list ? "end list" : "end retract"); }
  std::vector<std::string> events;
};

}  // namespace

TEST_CASE("JSON List items are streamed one at a time, then confirmed") {
  RecordingSink sink;
  const auto error = read_documents(
      "{\"apiVersion\": \"v1\",\n \"items\": [\n  {\"kind\": \"Pod\"},\n  {\"kind\": \"Service\"}\n ],\n"
      " \"kind\": \"List\"}\n",
      InputFormat::kJson, ReadLimits{}, sink);
  CHECK(error.ok());
  CHECK(sink.events == std::vector<std::string>{"begin", "item items[0] Pod line 3", "item items[1] Service line 4",
                                                "end list", "document List"});
}

TEST_CASE("items of an object that is not a List are retracted and the object comes whole") {
  RecordingSink sink;
  const auto error = read_documents("{\"items\": [{\"kind\": \"Pod\"}], \"kind\": \"Inventory\"}", InputFormat::kJson,
                                    ReadLimits{}, sink);
  CHECK(error.ok());
  CHECK(sink.events ==
        std::vector<std::string>{"begin", "item items[0] Pod line 1", "end retract", "document Inventory"});
}

TEST_CASE("a broken List retracts its items and reports the error") {
  RecordingSink sink;
  const auto error =
      read_documents("{\"items\": [{\"kind\": \"Pod\"},\n {\"kind\": }], \"kind\": \"List\"}", InputFormat::kJson,
                     ReadLimits{}, sink);
  REQUIRE_FALSE(error.ok());
  CHECK(error.pos().line == 2);
  CHECK(sink.events == std::vector<std::string>{"begin", "item items[0] Pod line 1", "end retract"});
}

TEST_CASE("streamed items each get the node budget, so a List may exceed it in total") {
  std::string text = "{\"kind\": \"List\", \"items\": [";
  for (int i = 0; i < 50; ++i) text += std::string(i ? "," : "") + "{\"kind\": \"Pod\", \"a\": [1, 2, 3]}";
  text += "]}";
  ReadLimits limits;
  limits.max_nodes = 20;
  RecordingSink sink;
  CHECK(read_documents(text, InputFormat::kJson, limits, sink).ok());
  CHECK(sink.events.size() == 50 + 3);
  CHECK_FALSE(read_documents(text, InputFormat::kJson, limits).error.ok());  // whole, it is over budget
}

TEST_CASE("YAML flow style that starts like JSON falls back to YAML only when JSON delivered nothing") {
  RecordingSink sink;
  CHECK(read_documents("{kind: Pod}\n", InputFormat::kAuto, ReadLimits{}, sink).ok());
  CHECK(sink.events == std::vector<std::string>{"document Pod"});
  RecordingSink second;
  const auto error = read_documents("{\"kind\": \"Pod\"}\n{kind: Pod}\n", InputFormat::kAuto, ReadLimits{}, second);
  CHECK_FALSE(error.ok());
  CHECK(second.events == std::vector<std::string>{"document Pod"});
}

}  // namespace podguard

namespace podguard {

TEST_CASE("a stray ',' that makes yaml-cpp 0.7 loop forever is an error (found by fuzzing)") {
  for (const char* text : {",", ",a: `b:", "a: 1\n---\n,b\n", "- a\n,"}) {
    INFO(text);
    const ReadResult r = read_documents(text, InputFormat::kYaml);
    REQUIRE_FALSE(r.error.ok());
    CHECK(r.error.message().find("unexpected ','") == 0);
  }
  const ReadResult r = read_documents("a: 1\n---\n,b\n", InputFormat::kYaml);
  CHECK(r.documents.size() == 1);
  CHECK(r.error.pos().line == 3);
}

}  // namespace podguard

namespace podguard {

namespace {

const SkippedFields& skipped(const std::vector<std::string>& patterns) {
  static std::vector<std::unique_ptr<SkippedFields>> kept;  // must outlive the reads
  kept.push_back(std::make_unique<SkippedFields>(SkippedFields::compile(patterns).value()));
  return *kept.back();
}

}  // namespace

TEST_CASE("skipped fields: patterns from the root, * for any key, **. for any depth, list items transparent") {
  const std::string doc = R"({"a": {"b": 1, "c": 2}, "x": {"a": {"b": 3}},
    "l": [{"b": 4, "k": 5}, [{"b": 6}]], "m": {"p": {"b": 7}, "q": {"b": 8, "z": 9}}})";
  const auto read = [&](const std::vector<std::string>& patterns) {
    ReadLimits limits;
    limits.skip = &skipped(patterns);
    ReadResult r = read_documents(doc, InputFormat::kJson, limits);
    REQUIRE(r.error.ok());
    return r.documents.at(0).value;
  };
  Json v = read({"a.b"});
  CHECK_FALSE(v["a"].contains("b"));
  CHECK(v["a"]["c"] == 2);
  CHECK(v["x"]["a"]["b"] == 3);  // rooted: only the top-level a
  v = read({"**.a.b"});
  CHECK_FALSE(v["a"].contains("b"));
  CHECK_FALSE(v["x"]["a"].contains("b"));
  v = read({"l.b"});
  CHECK_FALSE(v["l"][0].contains("b"));
  CHECK(v["l"][0]["k"] == 5);
  CHECK_FALSE(v["l"][1][0].contains("b"));  // items of nested lists too
  v = read({"m.*.b"});
  CHECK_FALSE(v["m"]["p"].contains("b"));
  CHECK_FALSE(v["m"]["q"].contains("b"));
  CHECK(v["m"]["q"]["z"] == 9);
  CHECK(v["a"]["b"] == 1);
  v = read({"x", "m.q"});
  CHECK_FALSE(v.contains("x"));
  CHECK_FALSE(v["m"].contains("q"));
  CHECK(v["m"]["p"]["b"] == 7);

  for (const char* bad : {"", "a..b", ".a", "a.", "a.**.b", "**", "**."}) {
    CAPTURE(bad);
    const auto compiled = SkippedFields::compile({bad});
    REQUIRE_FALSE(compiled.ok());
    CHECK(compiled.error().is(StatusCode::kInvalidInput));
    CHECK(compiled.error().message().find(std::string("\"") + bad + "\"") != std::string::npos);
  }
  std::vector<std::string> many(SkippedFields::kMaxSteps + 1, "k");
  CHECK(SkippedFields::compile(many).error().is(StatusCode::kTooLarge));
}

TEST_CASE("skipping metadata.managedFields leaves it out of JSON documents, still checked") {
  const std::string pod = R"({"kind": "Pod", "metadata": {"name": "web",
    "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {}}}},
                       "time": "2026-11-22T10:00:00Z", "n": -1.5e3, "ok": true, "none": null, "s": "\u00e9\n"}],
    "labels": {"app": "web"}},
    "spec": {"managedFields": 1, "template": {"metadata": {"managedFields": [], "name": "t"}}}})";
  ReadLimits limits;
  limits.skip = &skipped({"**.metadata.managedFields"});
  const ReadResult dropped = read_documents(pod, InputFormat::kJson, limits);
  REQUIRE(dropped.error.ok());
  REQUIRE(dropped.documents.size() == 1);
  const Json& doc = dropped.documents[0].value;
  CHECK_FALSE(doc["metadata"].contains("managedFields"));
  CHECK(doc["metadata"]["name"] == "web");
  CHECK(doc["metadata"]["labels"]["app"] == "web");  // members after it are read
  CHECK(doc["spec"]["managedFields"] == 1);          // only under metadata
  CHECK_FALSE(doc["spec"]["template"]["metadata"].contains("managedFields"));
  CHECK(doc["spec"]["template"]["metadata"]["name"] == "t");

  // Off by default: `podguard check` keeps documents whole.
  const ReadResult whole = read_documents(pod, InputFormat::kJson);
  REQUIRE(whole.error.ok());
  CHECK(whole.documents[0].value["metadata"]["managedFields"][0]["manager"] == "kubectl");

  // Skipped, not ignored: syntax errors in it are errors, with their line.
  for (const char* bad : {R"({"metadata": {"managedFields": [{"a": 1,}]}})",
                          R"({"metadata": {"managedFields": [{"a": "\q"}]}})",
                          "{\"metadata\": {\"managedFields\": [\"\xff\"]}}",
                          R"({"metadata": {"managedFields": [01]}})",
                          R"({"metadata": {"managedFields": [{"a" 1}]}})",
                          R"({"metadata": {"managedFields": [tru]}})",
                          R"({"metadata": {"managedFields": [{"a": "unterminated}]}})",
                          "{\"metadata\":\n {\"managedFields\": [1, 2}}"}) {
    CAPTURE(bad);
    const ReadResult r = read_documents(bad, InputFormat::kJson, limits);
    REQUIRE_FALSE(r.error.ok());
    CHECK(r.error.pos().line >= 1);
  }
  const ReadResult on_line_2 = read_documents("{\"metadata\":\n {\"managedFields\": [1, 2}}", InputFormat::kJson, limits);
  REQUIRE_FALSE(on_line_2.error.ok());
  CHECK(on_line_2.error.pos().line == 2);

  // Its nodes count against the budget, and its depth against the limit.
  std::string big = R"({"metadata": {"managedFields": [)";
  for (int i = 0; i < 100; ++i) big += std::string(i ? "," : "") + "{}";
  big += "]}}";
  ReadLimits small = limits;
  small.max_nodes = 50;
  CHECK_FALSE(read_documents(big, InputFormat::kJson, small).error.ok());
  // The same count as a whole read: a budget that fits one fits the other.
  const std::string four_nodes = R"({"metadata": {"managedFields": [1]}})";
  for (const bool drop : {false, true}) {
    ReadLimits exact;
    if (drop) exact.skip = limits.skip;
    exact.max_nodes = 4;
    CHECK(read_documents(four_nodes, InputFormat::kJson, exact).error.ok());
    exact.max_nodes = 3;
    CHECK_FALSE(read_documents(four_nodes, InputFormat::kJson, exact).error.ok());
  }
  const std::string deep = R"({"metadata": {"managedFields": )" + std::string(300, '[') + std::string(300, ']') + "}}";
  const ReadResult too_deep = read_documents(deep, InputFormat::kJson, limits);
  REQUIRE_FALSE(too_deep.error.ok());
  CHECK(too_deep.error.message().find("nesting is deeper") != std::string::npos);
}

TEST_CASE("admission's unread review fields leave out what no rule reads of an AdmissionReview, still checked") {
  const std::string review = R"({"kind": "AdmissionReview", "status": "kept",
    "request": {"uid": "u", "userInfo": {"username": "x", "groups": ["a"]}, "options": {"kind": "CreateOptions"},
      "requestKind": {"kind": "Pod"}, "requestResource": {"resource": "pods"}, "kind": {"kind": "Pod"},
      "object": {"metadata": {"name": "web", "managedFields": [{}]}, "spec": {"status": "kept"},
                 "status": {"phase": "Running", "conditions": [{"type": "Ready"}]}},
      "oldObject": {"metadata": {"name": "web"}, "status": {"phase": "Pending"}}}})";
  ReadLimits limits;
  limits.skip = &skipped(unread_review_fields());
  const ReadResult dropped = read_documents(review, InputFormat::kJson, limits);
  REQUIRE(dropped.error.ok());
  const Json& doc = dropped.documents.at(0).value;
  const Json& request = doc["request"];
  for (const char* gone : {"userInfo", "options", "requestKind", "requestResource"}) {
    CAPTURE(gone);
    CHECK_FALSE(request.contains(gone));
  }
  CHECK(request["uid"] == "u");
  CHECK(request["kind"]["kind"] == "Pod");
  CHECK_FALSE(request["object"].contains("status"));
  CHECK_FALSE(request["oldObject"].contains("status"));
  CHECK_FALSE(request["object"]["metadata"].contains("managedFields"));  // both work together
  CHECK(request["object"]["metadata"]["name"] == "web");
  CHECK(request["object"]["spec"]["status"] == "kept");  // only the object's own status
  CHECK(request["oldObject"]["metadata"]["name"] == "web");
  CHECK(doc["status"] == "kept");

  // Only in a review's request: a Pod's status elsewhere stays.
  const ReadResult pod =
      read_documents(R"({"kind": "Pod", "object": {"status": 1}, "status": {"phase": "Running"}})", InputFormat::kJson, limits);
  REQUIRE(pod.error.ok());
  CHECK(pod.documents[0].value["status"]["phase"] == "Running");
  CHECK(pod.documents[0].value["object"]["status"] == 1);

  // Skipped, not ignored.
  for (const char* bad : {R"({"request": {"userInfo": {"a": 1,}}})", R"({"request": {"object": {"status": [tru]}}})",
                          R"({"request": {"options": "\q"}})"}) {
    CAPTURE(bad);
    CHECK_FALSE(read_documents(bad, InputFormat::kJson, limits).error.ok());
  }
}

TEST_CASE("numbers as kubectl sends them: an integral float is an integer, in YAML and in JSON") {
  for (const auto format : {InputFormat::kYaml, InputFormat::kJson}) {
    CAPTURE(static_cast<int>(format));
    const std::string text = format == InputFormat::kYaml
                                 ? "{a: 29.0, b: 1e+06, c: !!float 1, d: -0.0, e: 1.5, f: 1e300, g: 2.5e3, h: 7}"
                                 : R"({"a": 29.0, "b": 1e+06, "c": 1.0, "d": -0.0, "e": 1.5, "f": 1e300, "g": 2.5e3, "h": 7})";
    const ReadResult r = read_documents(text, format);
    REQUIRE(r.error.ok());
    const Json& v = r.documents.at(0).value;
    for (const char* key : {"a", "b", "c", "d", "g", "h"}) {
      CAPTURE(key);
      CHECK(v[key].is_number_integer());
    }
    CHECK(v["a"] == 29);
    CHECK(v["b"] == 1000000);
    CHECK(v["c"] == 1);
    CHECK(v["d"] == 0);
    CHECK(v["g"] == 2500);
    CHECK(v["e"].is_number_float());  // a fraction stays a float
    CHECK(v["f"].is_number_float());  // beyond int64 too
  }
}

TEST_CASE("YAML merge keys resolve where they are written, as kubectl's YAML library does") {
  const ReadResult r = read_documents(
      "base: &base {a: base, b: base}\n"
      "other: &other {a: other, c: other}\n"
      "before: {a: mine, <<: *base}\n"             // the merge overrides keys before it
      "after: {<<: *base, a: mine}\n"              // keys after it override the merge
      "listed: {<<: [*base, *other]}\n"            // earlier maps in a list win
      "twice: {a: mine, <<: *base, a: again}\n");  // written twice around a merge: the last wins
  REQUIRE_MESSAGE(r.error.ok(), r.error.to_string());
  const Json& v = r.documents.at(0).value;
  CHECK(v["before"]["a"] == "base");
  CHECK(v["after"]["a"] == "mine");
  CHECK(v["after"]["b"] == "base");
  CHECK(v["listed"]["a"] == "base");
  CHECK(v["listed"]["c"] == "other");
  CHECK(v["twice"]["a"] == "again");
  // A key written twice without a merge between is still an error.
  CHECK_FALSE(read_documents("{<<: {x: 1}, a: 1, a: 2}\n").error.ok());
  CHECK_FALSE(read_documents("{a: 1, <<: [1, 2]}\n").error.ok());
}

TEST_CASE("YAML 1.1 booleans and numbers used as keys are written as kubectl writes them") {
  const ReadResult r = read_documents("{yes: 1, Off: 2, 0x1F: 3, \"on\": 4, name: 5}");
  REQUIRE(r.error.ok());
  const Json& v = r.documents.at(0).value;
  CHECK(v.contains("true"));
  CHECK(v.contains("false"));
  CHECK(v.contains("31"));
  CHECK(v.contains("on"));  // quoted: a string
  CHECK(v.contains("name"));
}

TEST_CASE("columns count characters, not bytes, in YAML and in JSON alike") {
  // "é" is two bytes and "€" three; "privileged" is the 29th character of
  // its line in both texts below, and the 37th byte.
  const std::string yaml = "a: 1\nb: {n: \"é€€\", x: \"ç\", privileged: true}\n";
  const std::string json = "{\"a\": 1,\n\"b\": {\"n\": \"é€€\", \"x\": \"ç\",\"privileged\": true}}";
  for (const auto& [text, format] : {std::pair{yaml, InputFormat::kYaml}, std::pair{json, InputFormat::kJson}}) {
    CAPTURE(text);
    const ReadResult r = read_documents(text, format);
    REQUIRE(r.error.ok());
    const SourcePos p = r.documents.at(0).positions.locate({}, FieldPath().key("b").key("privileged"));
    CHECK(p.line == 2);
    const std::string line = text.substr(text.find('\n') + 1);
    const std::size_t byte = line.find(format == InputFormat::kYaml ? "privileged" : "\"privileged") + 1;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < byte - 1; ++i) chars += (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
    CHECK(p.column == static_cast<int>(chars) + 1);
    CHECK(p.column < static_cast<int>(byte));
  }
  // Errors too.
  const ReadResult bad = read_documents("x: \"ééé\" ]\n", InputFormat::kYaml);
  REQUIRE_FALSE(bad.error.ok());
  CHECK(bad.error.pos().column <= 10);
}

}  // namespace podguard

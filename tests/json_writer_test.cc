// write_json must give exactly the bytes nlohmann's
// dump(-1, ' ', false, replace) gives, for every value: the webhook's
// answers were nlohmann's before, and the API server and audit logs read
// them.
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>

#include "engine/reading/json_writer.h"
#include "engine/reading/manifest_reader.h"
#include "fixture_files.h"

namespace podguard {
namespace {

std::string nlohmann_text(const Json& v) {
  const auto text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return std::string(text.data(), text.size());
}

void same_as_nlohmann(const Json& v) {
  const std::string ours = write_json(v);
  CHECK_MESSAGE(ours == nlohmann_text(v), "value: " << nlohmann_text(v));
}

Json string_value(const std::string& s) { return Json(JsonString(s.data(), s.size())); }

TEST_CASE("write_json: every ASCII byte, escaped as nlohmann escapes it") {
  std::string all;
  for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
  same_as_nlohmann(string_value(all));
  CHECK(write_json(string_value("a\"b\\c\n\t\x01\x1f\x7f")) == "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f\"");
  for (int c = 0; c < 0x80; ++c) same_as_nlohmann(string_value(std::string(1, static_cast<char>(c))));
}

TEST_CASE("write_json: UTF-8 at every length boundary is copied as it is") {
  for (const char* s : {"\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf",
                        "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x90\xb3"}) {
    CAPTURE(s);
    CHECK(write_json(string_value(s)) == "\"" + std::string(s) + "\"");
    same_as_nlohmann(string_value(s));
  }
}

TEST_CASE("write_json: invalid UTF-8 is replaced as nlohmann replaces it") {
  // Overlong forms, surrogates, above U+10FFFF, stray continuation bytes,
  // cut sequences, bytes that never start one; alone and inside text.
  for (const char* bad : {"\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xed\xa0\x80", "\xed\xbf\xbf",
                          "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\x80",
                          "\xbf", "\xc3", "\xe2\x9c", "\xf0\x9f\x90", "\xfe", "\xff"}) {
    CAPTURE(bad);
    const std::string text = "ok " + std::string(bad) + " then \"quoted\" \xc3\xa9";
    const std::string ours = write_json(string_value(text));
    CHECK(ours.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
    same_as_nlohmann(string_value(text));
    same_as_nlohmann(string_value(bad));
  }
}

TEST_CASE("write_json: random bytes, mostly text, match nlohmann") {
  std::mt19937 random(20261126);
  // Bytes weighted to what answers carry, with every byte possible.
  const std::string common = "abcXYZ019 :/@.-_\"\\\n\t";
  std::uniform_int_distribution<int> length(0, 40), pick(0, 9), any_byte(0, 255);
  std::uniform_int_distribution<std::size_t> from_common(0, common.size() - 1);
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    const int n = length(random);
    for (int i = 0; i < n; ++i) {
      s += pick(random) < 7 ? common[from_common(random)] : static_cast<char>(any_byte(random));
    }
    const std::string ours = write_json(string_value(s));
    if (ours != nlohmann_text(string_value(s))) {
      FAIL_CHECK("differs for bytes of length " << s.size() << ": " << nlohmann_text(string_value(s)));
      break;
    }
  }
}

TEST_CASE("write_json: numbers, literals, nesting and keys") {
  Json v = Json::object();
  v["int_min"] = std::numeric_limits<std::int64_t>::min();
  v["int_max"] = std::numeric_limits<std::int64_t>::max();
  v["uint_max"] = std::numeric_limits<std::uint64_t>::max();
  v["zero"] = 0;
  v["negative"] = -403;
  v["float"] = 1.5;
  v["big_float"] = 1e300;
  v["negative_zero"] = -0.0;
  v["nan"] = std::numeric_limits<double>::quiet_NaN();
  v["true"] = true;
  v["false"] = false;
  v["null"] = nullptr;
  v["empty_object"] = Json::object();
  v["empty_array"] = Json::array();
  v["nested"] = {{"a", {1, "two", {{"three", Json::array({nullptr, false})}}}}};
  v[JsonString("key with \"quotes\"\n")] = "value";
  v[JsonString("\xff bad key")] = "replaced";
  same_as_nlohmann(v);
  CHECK(write_json(Json(42)) == "42");
  CHECK(write_json(Json::array({1, 2})) == "[1,2]");
  CHECK(write_json(Json()) == "null");
}

TEST_CASE("write_json: the repository's manifests and reviews, as read, match nlohmann") {
  std::size_t documents = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(testing::test_fixtures_dir())) {
    const std::string ext = entry.path().extension().string();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".yml" && ext != ".json")) continue;
    const ReadResult read = read_documents(testing::read_text(entry.path()));
    for (const Document& d : read.documents) {
      same_as_nlohmann(d.value);
      ++documents;
    }
  }
  CHECK(documents > 100);
}

TEST_CASE("append_json appends to what the string holds") {
  std::string out = "prefix:";
  append_json(out, Json::array({"x"}));
  CHECK(out == "prefix:[\"x\"]");
}

}  // namespace
}  // namespace podguard

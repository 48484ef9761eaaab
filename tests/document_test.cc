#include <doctest/doctest.h>

#include "engine/reading/document.h"

namespace podguard {

TEST_CASE("field paths print the Kubernetes way") {
  FieldPath p;
  p.push_key("spec").push_key("template").push_key("spec").push_key("containers").push_index(0);
  p.push_key("securityContext").push_key("runAsUser");
  CHECK(p.str() == "spec.template.spec.containers[0].securityContext.runAsUser");
  CHECK(FieldPath().key("metadata").key("annotations").key("podguard.io/exempt").str() ==
        "metadata.annotations[podguard.io/exempt]");
  CHECK(FieldPath().key("items").index(3).key("spec").str() == "items[3].spec");
  CHECK(FieldPath().str().empty());
  CHECK(p.prefix(2).str() == "spec.template.spec.containers[0]");
  CHECK(p.prefix(99).empty());
}

TEST_CASE("a source map finds the deepest recorded prefix") {
  SourceMap m;
  FieldPath spec = FieldPath().key("spec");
  m.record(path_hash::kRoot, {1, 1});
  m.record(path_hash::of(spec), {3, 1});
  m.record(path_hash::of(spec.key("containers").index(0)), {5, 5});
  m.record(path_hash::of(spec), {99, 1});  // recorded twice: the first position wins
  m.finish();
  CHECK(m.locate({}, spec.key("containers").index(0).key("image")).line == 5);
  CHECK(m.locate({}, spec.key("volumes")).line == 3);
  CHECK(m.locate({}, FieldPath().key("status")).line == 1);
  SUBCASE("with a root prefix, as for the items of a List") {
    SourceMap list;
    list.record(path_hash::of(FieldPath().key("items").index(2)), {40, 3});
    list.finish();
    CHECK(list.locate(FieldPath().key("items").index(2), spec).line == 40);
    CHECK_FALSE(list.locate(FieldPath().key("items").index(1), spec).known());
  }
  SUBCASE("keys and indexes never collide") {
    CHECK(path_hash::of(FieldPath().key("0")) != path_hash::of(FieldPath().index(0)));
    CHECK(path_hash::of(FieldPath().key("ab").key("c")) != path_hash::of(FieldPath().key("a").key("bc")));
  }
}

}  // namespace podguard

namespace podguard {

TEST_CASE("dispose frees a value leaves first and leaves it null, however deep") {
  Json v = Json::parse(R"({"a": [1, "two", {"b": [[], {}, null]}], "c": {"d": "e"}})");
  dispose(v);
  CHECK(v.is_null());
  // Deeper than any reader allows: the rest is left to nlohmann's destructor.
  Json deep = Json::array();
  Json* at = &deep;
  for (int i = 0; i < 5000; ++i) {
    at->push_back(Json::array());
    at = &at->back();
  }
  at->push_back("leaf");
  dispose(deep);
  CHECK(deep.is_null());
  Document doc;
  doc.value = Json::parse(R"({"kind": "Pod", "spec": {"containers": [{"name": "web"}]}})");
  Document moved = std::move(doc);
  CHECK(moved.value["spec"]["containers"][0]["name"] == "web");
  const Document copy = moved;
  CHECK(copy.value == moved.value);
}

}  // namespace podguard

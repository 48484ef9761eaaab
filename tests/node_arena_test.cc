#include "engine/reading/node_arena.h"

#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "engine/admission/admission.h"
#include "engine/reading/document.h"
#include "engine/reading/manifest_reader.h"

// Under ASan (the sanitizer build runs these too), a node freed to the
// wrong place, or touched after its arena is gone, is a test failure.
namespace podguard {
namespace {

Json sample() {
  return Json::parse(R"({"metadata": {"name": "a-name-longer-than-the-small-string-buffer", "labels": {"app": "x"}},
                         "spec": {"containers": [{"name": "app",
                                                  "image": "registry.example/app@sha256:0123456789abcdef"}]}})");
}

}  // namespace

TEST_CASE("Json nodes come from the open scope's arena, and from the heap outside one") {
  NodeArena arena;
  Json outside = sample();
  CHECK(arena.used() == 0);
  {
    NodeArenaScope scope(arena);
    Json inside = sample();
    CHECK(arena.used() > 0);
    const std::size_t used = arena.used();
    Json copy = outside;  // a copy made in the scope is an arena copy
    CHECK(arena.used() > used);
    CHECK(copy == outside);
  }
  const std::size_t used = arena.used();
  Json after = sample();
  CHECK(arena.used() == used);
}

TEST_CASE("an arena's nodes and heap nodes may be freed in or out of a scope, in any order") {
  Json heap = sample();
  Json from_arena;
  Json copy;
  {
    NodeArena arena;
    {
      NodeArenaScope scope(arena);
      from_arena = sample();
      heap = nullptr;  // a heap node freed inside a scope goes back to the heap
    }
    copy = from_arena;          // made outside the scope: on the heap
    from_arena["spec"] = 1;     // arena nodes freed outside the scope: nothing to do
    from_arena = nullptr;
  }
  // The copy outlives the arena.
  CHECK(copy == sample());
  CHECK(copy["metadata"]["name"] == "a-name-longer-than-the-small-string-buffer");
}

TEST_CASE("arena scopes nest; the innermost wins and the outer one is back after it") {
  NodeArena outer, inner;
  NodeArenaScope a(outer);
  Json one = sample();
  const std::size_t outer_used = outer.used();
  {
    NodeArenaScope b(inner);
    Json two = sample();
    CHECK(inner.used() > 0);
    CHECK(outer.used() == outer_used);
  }
  Json three = sample();
  CHECK(outer.used() > outer_used);
}

TEST_CASE("an arena takes blocks larger than its chunks, and many small ones") {
  NodeArena arena;
  NodeArenaScope scope(arena);
  Json big = std::string(3 * 1024 * 1024, 'x');
  CHECK(big.get_ref<const JsonString&>().size() == 3u * 1024 * 1024);
  Json list = Json::array();
  for (int i = 0; i < 20000; ++i) list.push_back("item-" + std::to_string(i) + "-with-a-long-enough-name");
  CHECK(list.size() == 20000);
  CHECK(list[19999] == "item-19999-with-a-long-enough-name");
  CHECK(arena.used() > 3u * 1024 * 1024);
}

TEST_CASE("an arena may be destroyed on another thread than the one that filled it") {
  auto arena = std::make_unique<NodeArena>();
  Json value;
  std::thread([&] {
    NodeArenaScope scope(*arena);
    value = sample();
  }).join();
  CHECK(value["spec"]["containers"][0]["name"] == "app");
  std::thread([&] {
    value = nullptr;
    arena.reset();
  }).join();
  CHECK(arena == nullptr);
}

TEST_CASE("documents read into an arena equal those read onto the heap, and outlive moves of their ReadResult") {
  const std::string text(sample().dump());
  ReadLimits heap_limits;
  ReadLimits arena_limits;
  arena_limits.use_arena = true;
  const ReadResult heap = read_documents(text, InputFormat::kJson, heap_limits);
  ReadResult read = read_documents(text, InputFormat::kJson, arena_limits);
  REQUIRE(read.arena != nullptr);
  CHECK(heap.arena == nullptr);
  REQUIRE(read.documents.size() == 1);
  CHECK(read.documents[0].value == heap.documents[0].value);
  // Moved into a new owner, then replaced by another arena read: the first
  // documents go before their arena does.
  ReadResult moved = std::move(read);
  CHECK(moved.documents[0].value == heap.documents[0].value);
  moved = read_documents(text, InputFormat::kJson, arena_limits);
  CHECK(moved.documents[0].value == heap.documents[0].value);
  // A copy of a document outlives the arena.
  Document copy = moved.documents[0];
  moved = ReadResult();
  CHECK(copy.value == heap.documents[0].value);
}

TEST_CASE("the webhook's reads use an arena") {
  const ReadResult read = read_admission_review(R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})");
  CHECK(read.arena != nullptr);
  CHECK(read.arena->used() > 0);
}

}  // namespace podguard

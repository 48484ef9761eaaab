// Where the nodes of a Json document live.
//
// nlohmann's basic_json allocates every object, array and string object (and
// every object's and array's element buffer) on its own. For the webhook,
// which reads a review, judges it and drops it, those few hundred malloc and
// free calls per review were a large share of its CPU. So Json allocates
// through NodeAllocator: while a NodeArenaScope is open on a thread, nodes
// come from that scope's NodeArena by bumping a pointer and are given back
// all at once when the arena is destroyed; outside a scope they come from
// the heap as usual. Each block carries a 16-byte header saying which, so a
// node may be freed anywhere, from any thread, in or out of a scope: freeing
// an arena node does nothing. Json's strings (JsonString) use NodeAllocator
// too, so a document read in a scope has no block outside its arena.
//
// The one rule: no node of an arena may be touched, freed included, once the
// arena is destroyed. Either destroy the nodes first, or, when every node of
// a value is known to be in the arena, forget the value without destroying
// it (ReadResult does both, in that order). A NodeArena belongs to one owner
// at a time and is not itself thread-safe.
#pragma once

#include <cstddef>
#include <limits>
#include <new>
#include <type_traits>

namespace podguard {

class NodeArena {
 public:
  NodeArena() = default;
  NodeArena(const NodeArena&) = delete;
  NodeArena& operator=(const NodeArena&) = delete;
  ~NodeArena();

  // `bytes` rounded up to 16, aligned to 16; throws std::bad_alloc.
  void* allocate(std::size_t bytes);

  // Bytes handed out so far (headers and rounding included).
  [[nodiscard]] std::size_t used() const { return used_; }

 private:
  struct Chunk;
  void grow(std::size_t bytes);

  Chunk* chunks_ = nullptr;  // newest first
  char* next_ = nullptr;
  char* end_ = nullptr;
  std::size_t used_ = 0;
};

// Routes this thread's Json node allocations to `arena` until destroyed.
// Scopes nest; the innermost wins.
class NodeArenaScope {
 public:
  explicit NodeArenaScope(NodeArena& arena);
  NodeArenaScope(const NodeArenaScope&) = delete;
  NodeArenaScope& operator=(const NodeArenaScope&) = delete;
  ~NodeArenaScope();

 private:
  NodeArena* previous_;
};

namespace node_arena {
// A block of `bytes` from the current scope's arena, else from the heap.
void* allocate(std::size_t bytes);
// Gives a block from allocate() back: to the heap, or nowhere for an arena
// block (its arena reclaims it).
void deallocate(void* p) noexcept;
}  // namespace node_arena

// The allocator Json is instantiated with (document.h). Stateless: which
// arena, if any, is decided per allocation by the thread's open scope.
template <typename T>
struct NodeAllocator {
  using value_type = T;
  using is_always_equal = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;

  NodeAllocator() noexcept = default;
  template <typename U>
  NodeAllocator(const NodeAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor): rebinding

  T* allocate(std::size_t n) {
    static_assert(alignof(T) <= 16, "NodeArena aligns to 16 bytes");
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T) - 64) throw std::bad_array_new_length();
    return static_cast<T*>(node_arena::allocate(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t) noexcept { node_arena::deallocate(p); }

  template <typename U>
  friend bool operator==(const NodeAllocator&, const NodeAllocator<U>&) noexcept {
    return true;
  }
};

}  // namespace podguard

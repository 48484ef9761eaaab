#include "engine/reading/node_arena.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define PODGUARD_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define PODGUARD_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define PODGUARD_POISON(p, n) ((void)(p), (void)(n))
#define PODGUARD_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace podguard {
namespace {

// Precedes every block NodeAllocator hands out.
struct alignas(16) BlockHeader {
  std::uint64_t tag;
  std::uint64_t bytes;  // usable size, for poisoning freed arena blocks
};
static_assert(sizeof(BlockHeader) == 16);

constexpr std::uint64_t kHeapTag = 0x7067'6865'6170'0001ULL;   // "pgheap"
constexpr std::uint64_t kArenaTag = 0x7067'6172'656e'0002ULL;  // "pgaren"

constexpr std::size_t round16(std::size_t n) { return (n + 15) & ~std::size_t{15}; }

thread_local NodeArena* current_arena = nullptr;

}  // namespace

struct alignas(16) NodeArena::Chunk {
  Chunk* next;
  std::size_t size;  // including this header
};

namespace {

// A review's document fits in one chunk of this size; a worker keeps two
// spare so that reading a review takes no heap chunk at all. Below glibc's
// mmap threshold, so a fresh chunk is not a system call either.
constexpr std::size_t kStandardChunk = 64 * 1024;
constexpr std::size_t kMaxGrowth = 1024 * 1024;
constexpr int kCachedChunks = 2;

// Trivially destructible, so it can be read during thread exit; the
// emptier below frees the chunks when the thread ends.
struct ChunkCache {
  void* chunks[kCachedChunks];
  int count;
  bool closed;
};
thread_local ChunkCache chunk_cache{};

struct ChunkCacheEmptier {
  ~ChunkCacheEmptier() {
    chunk_cache.closed = true;
    while (chunk_cache.count > 0) {
      void* chunk = chunk_cache.chunks[--chunk_cache.count];
      PODGUARD_UNPOISON(chunk, kStandardChunk);
      std::free(chunk);
    }
  }
};
thread_local ChunkCacheEmptier chunk_cache_emptier;

}  // namespace

NodeArena::~NodeArena() {
  while (chunks_ != nullptr) {
    Chunk* chunk = chunks_;
    chunks_ = chunk->next;
    if (chunk->size == kStandardChunk && !chunk_cache.closed && chunk_cache.count < kCachedChunks) {
      (void)&chunk_cache_emptier;  // constructs the emptier on this thread
      chunk_cache.chunks[chunk_cache.count++] = chunk;
      PODGUARD_POISON(chunk, kStandardChunk);
    } else {
      PODGUARD_UNPOISON(chunk, chunk->size);
      std::free(chunk);
    }
  }
}

void NodeArena::grow(std::size_t bytes) {
  const std::size_t last = chunks_ == nullptr ? 0 : chunks_->size;
  std::size_t size = std::max(kStandardChunk, std::min(last * 2, kMaxGrowth));
  size = std::max(size, bytes + sizeof(Chunk));
  void* memory = nullptr;
  if (size == kStandardChunk && chunk_cache.count > 0) {
    memory = chunk_cache.chunks[--chunk_cache.count];
    PODGUARD_UNPOISON(memory, kStandardChunk);
  } else {
    memory = std::malloc(size);
    if (memory == nullptr) throw std::bad_alloc();
  }
  auto* chunk = static_cast<Chunk*>(memory);
  chunk->next = chunks_;
  chunk->size = size;
  chunks_ = chunk;
  next_ = reinterpret_cast<char*>(chunk + 1);
  end_ = reinterpret_cast<char*>(chunk) + size;
}

void* NodeArena::allocate(std::size_t bytes) {
  bytes = round16(bytes);
  if (static_cast<std::size_t>(end_ - next_) < bytes) grow(bytes);
  void* p = next_;
  next_ += bytes;
  used_ += bytes;
  return p;
}

NodeArenaScope::NodeArenaScope(NodeArena& arena) : previous_(current_arena) { current_arena = &arena; }

NodeArenaScope::~NodeArenaScope() { current_arena = previous_; }

namespace node_arena {

void* allocate(std::size_t bytes) {
  BlockHeader* header;
  if (current_arena != nullptr) {
    header = static_cast<BlockHeader*>(current_arena->allocate(sizeof(BlockHeader) + bytes));
    header->tag = kArenaTag;
  } else {
    header = static_cast<BlockHeader*>(::operator new(sizeof(BlockHeader) + bytes));
    header->tag = kHeapTag;
  }
  header->bytes = bytes;
  return header + 1;
}

void deallocate(void* p) noexcept {
  if (p == nullptr) return;
  BlockHeader* header = static_cast<BlockHeader*>(p) - 1;
  if (header->tag == kArenaTag) {
    // Reclaimed with the arena; under ASan, a later touch is reported.
    PODGUARD_POISON(header, sizeof(BlockHeader) + round16(header->bytes));
    return;
  }
  if (header->tag != kHeapTag) std::abort();  // not a NodeAllocator block: memory is corrupt
  header->tag = 0;
  ::operator delete(header);
}

}  // namespace node_arena
}  // namespace podguard

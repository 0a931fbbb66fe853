// Memory for large tables read at random (the dedup window's): blocks of
// 2 MiB and up are mapped on their own and advised to use transparent huge
// pages. With 4 KiB pages such a table misses the TLB on nearly every
// lookup; with huge pages one entry covers 2 MiB. Where the kernel has
// transparent huge pages off, the advice is ignored and the block is plain
// memory.
#ifndef REBOUND_COMMON_HUGE_PAGES_H_
#define REBOUND_COMMON_HUGE_PAGES_H_

#include <cstddef>
#include <memory>

namespace rebound {

constexpr size_t kHugePageBytes = size_t{2} << 20;

// A block of at least `bytes` (a multiple of kHugePageBytes, aligned to
// one), advised MADV_HUGEPAGE; throws std::bad_alloc when it cannot be
// mapped.
void* MapHugePages(size_t bytes);
// Returns a block from MapHugePages(bytes).
void UnmapHugePages(void* block, size_t bytes);

// A standard allocator: small blocks from operator new, large ones from
// MapHugePages.
template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}

  T* allocate(size_t n) {
    if (n * sizeof(T) < kHugePageBytes) return std::allocator<T>().allocate(n);
    return static_cast<T*>(MapHugePages(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugePageBytes) {
      std::allocator<T>().deallocate(p, n);
      return;
    }
    UnmapHugePages(p, n * sizeof(T));
  }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const HugePageAllocator<U>&) const {
    return false;
  }
};

}  // namespace rebound

#endif  // REBOUND_COMMON_HUGE_PAGES_H_

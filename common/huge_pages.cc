#include "common/huge_pages.h"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace rebound {
namespace {

size_t Rounded(size_t bytes) {
  return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
}

}  // namespace

void* MapHugePages(size_t bytes) {
  const size_t size = Rounded(bytes);
  // Over-map by one huge page, then trim to a 2 MiB-aligned block: only
  // aligned 2 MiB ranges can be backed by huge pages.
  void* raw = mmap(nullptr, size + kHugePageBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned =
      (start + kHugePageBytes - 1) & ~(uintptr_t{kHugePageBytes} - 1);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + size + kHugePageBytes;
  if (end > aligned + size) {
    munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  }
  void* block = reinterpret_cast<void*>(aligned);
  // Advice only: refused (no transparent huge pages), the block still works.
  madvise(block, size, MADV_HUGEPAGE);
  return block;
}

void UnmapHugePages(void* block, size_t bytes) {
  munmap(block, Rounded(bytes));
}

}  // namespace rebound

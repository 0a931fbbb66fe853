#include "common/huge_pages.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "gtest/gtest.h"

namespace rebound {
namespace {

TEST(HugePages, LargeBlocksAreAlignedAndUsable) {
  for (size_t bytes :
       {kHugePageBytes, kHugePageBytes + 1, 5 * kHugePageBytes}) {
    void* block = MapHugePages(bytes);
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % kHugePageBytes, 0u);
    std::memset(block, 0x5A, bytes);
    EXPECT_EQ(static_cast<unsigned char*>(block)[bytes - 1], 0x5A);
    UnmapHugePages(block, bytes);
  }
}

TEST(HugePages, AllocatorServesSmallAndLargeContainers) {
  std::vector<uint64_t, HugePageAllocator<uint64_t>> small(10, 7);
  EXPECT_EQ(small[9], 7u);
  // Grown past 2 MiB: moved from operator new to mapped blocks, twice.
  std::vector<uint64_t, HugePageAllocator<uint64_t>> big;
  for (uint64_t i = 0; i < 1'000'000; ++i) big.push_back(i);
  for (uint64_t i = 0; i < 1'000'000; i += 9973) ASSERT_EQ(big[i], i);

  absl::flat_hash_map<uint64_t, uint64_t, absl::Hash<uint64_t>,
                      std::equal_to<uint64_t>,
                      HugePageAllocator<std::pair<const uint64_t, uint64_t>>>
      table;
  for (uint64_t i = 0; i < 300'000; ++i) table[i * 7919] = i;
  for (uint64_t i = 0; i < 300'000; i += 101) ASSERT_EQ(table.at(i * 7919), i);
  table.clear();
  EXPECT_TRUE(table.empty());
}

}  // namespace
}  // namespace rebound

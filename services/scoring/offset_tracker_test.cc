// OffsetTracker carries at-least-once: the offset stored is always the
// lowest still in flight, so whatever finishes out of order, a restart
// replays everything not finished and nothing finished is skipped.
#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "services/scoring/scoring_consumer.h"

namespace rebound::scoring {
namespace {

TEST(OffsetTracker, StoresOnlyPastWhatIsDoneInOrder) {
  OffsetTracker t;
  for (int64_t o = 10; o < 15; ++o) t.Begin(o);
  EXPECT_EQ(t.Done(12), 10);  // 10 and 11 still in flight.
  EXPECT_EQ(t.Done(11), -1);  // 10 still in flight: unchanged.
  EXPECT_EQ(t.Done(10), 13);  // 10..12 done: resume at 13.
  EXPECT_EQ(t.Done(14), -1);  // 13 in flight.
  EXPECT_EQ(t.Done(13), 15);  // All done: one past the highest.
}

// A record of an earlier assignment of the partition landing late (a
// verdict resent across a revoke and reassign) must not move the offset
// past events this assignment has not finished.
TEST(OffsetTracker, AnOffsetNeverBegunMovesNothing) {
  OffsetTracker t;
  t.Begin(200);
  EXPECT_EQ(t.Done(203), -1);
  EXPECT_EQ(t.Done(200), 201);  // Not 204.
  EXPECT_EQ(t.Done(200), -1);   // Done twice: nothing more.
}

TEST(OffsetTracker, NeverGoesBackAndSkipsNothingUnderAnyOrder) {
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    OffsetTracker t;
    std::vector<int64_t> offsets;
    for (int64_t o = 0; o < 50; ++o) {
      // Gaps, as compaction or transactions leave them.
      if (random() % 5 == 0) continue;
      offsets.push_back(o);
      t.Begin(o);
    }
    std::vector<int64_t> order = offsets;
    std::shuffle(order.begin(), order.end(), random);
    std::vector<bool> done(50, false);
    int64_t stored = -1;
    for (int64_t o : order) {
      done[o] = true;
      const int64_t next = t.Done(o);
      if (next < 0) continue;
      EXPECT_GT(next, stored) << "went back";
      stored = next;
      // Everything begun below the stored offset is done.
      for (int64_t b : offsets) {
        if (b < next) {
          EXPECT_TRUE(done[b]) << b << " skipped at " << next;
        }
      }
    }
    EXPECT_EQ(stored, offsets.back() + 1);
  }
}

}  // namespace
}  // namespace rebound::scoring

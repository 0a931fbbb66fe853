#include "common/call_workers.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace rebound {
namespace {

TEST(CallWorkers, EveryCallQueuedIsRunEvenAtDestruction) {
  std::atomic<int> ran{0};
  {
    CallWorkers workers(2, 1000, "test");
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(workers.Submit([&ran] { ran.fetch_add(1); }));
    }
  }
  EXPECT_EQ(ran.load(), 500);
}

TEST(CallWorkers, AFullQueueRefusesAndCountsIt) {
  prometheus::Registry registry;
  auto& refused =
      prometheus::BuildCounter().Name("refused").Register(registry).Add({});
  absl::Notification release, started;
  std::atomic<int> ran{0};
  {
    CallWorkers workers(1, 2, "test", &refused);
    // The one thread busy with the first call...
    ASSERT_TRUE(workers.Submit([&] {
      started.Notify();
      release.WaitForNotification();
      ran.fetch_add(1);
    }));
    started.WaitForNotification();
    // ...two more wait, a third finds the queue full.
    EXPECT_TRUE(workers.Submit([&ran] { ran.fetch_add(1); }));
    EXPECT_TRUE(workers.Submit([&ran] { ran.fetch_add(1); }));
    EXPECT_FALSE(workers.Submit([&ran] { ran.fetch_add(100); }));
    EXPECT_EQ(refused.Value(), 1);
    release.Notify();
  }
  EXPECT_EQ(ran.load(), 3);
}

TEST(CallWorkers, CallsRunSideBySideUpToTheThreads) {
  // Three calls that each wait for the other two: only three threads let
  // them all finish.
  std::atomic<int> arrived{0};
  absl::Notification all;
  std::atomic<int> done{0};
  {
    CallWorkers workers(3, 10, "test");
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(workers.Submit([&] {
        if (arrived.fetch_add(1) + 1 == 3) all.Notify();
        if (all.WaitForNotificationWithTimeout(absl::Seconds(30))) {
          done.fetch_add(1);
        }
      }));
    }
  }
  EXPECT_EQ(done.load(), 3);
}

}  // namespace
}  // namespace rebound

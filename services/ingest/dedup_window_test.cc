#include "services/ingest/dedup_window.h"

#include "gtest/gtest.h"

namespace rebound::ingest {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'000'000);

Delivery Ok(int64_t offset) {
  Delivery d;
  d.partition = 2;
  d.offset = offset;
  return d;
}

TEST(DedupWindow, PublishedIdIsDuplicate) {
  DedupWindow w(10, absl::Minutes(1));
  Delivery seen;
  ASSERT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/a"), kT0, nullptr, &seen),
            DedupWindow::Claim::kNew);
  w.Resolve(DedupWindow::Fingerprint("t/a"), Ok(7), kT0);
  ASSERT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/a"),
                          kT0 + absl::Seconds(1), nullptr, &seen),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(seen.partition, 2);
  EXPECT_EQ(seen.offset, 7);
}

TEST(DedupWindow, InFlightDuplicateWaitsForOutcome) {
  DedupWindow w(10, absl::Minutes(1));
  Delivery seen;
  ASSERT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/a"), kT0, nullptr, &seen),
            DedupWindow::Claim::kNew);
  int calls = 0;
  int64_t offset = -1;
  ASSERT_EQ(w.ClaimOrWait(
                DedupWindow::Fingerprint("t/a"), kT0,
                [&](const Delivery& d) {
                  ++calls;
                  offset = d.offset;
                },
                &seen),
            DedupWindow::Claim::kWaiting);
  EXPECT_EQ(calls, 0);
  w.Resolve(DedupWindow::Fingerprint("t/a"), Ok(9), kT0);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(offset, 9);
}

TEST(DedupWindow, FailedIdCanBeRetried) {
  DedupWindow w(10, absl::Minutes(1));
  Delivery seen;
  int waiter_calls = 0;
  bool waiter_ok = true;
  w.ClaimOrWait(DedupWindow::Fingerprint("t/a"), kT0, nullptr, &seen);
  w.ClaimOrWait(
      DedupWindow::Fingerprint("t/a"), kT0,
      [&](const Delivery& d) {
        ++waiter_calls;
        waiter_ok = d.status.ok();
      },
      &seen);
  Delivery failed;
  failed.status = absl::UnavailableError("down");
  w.Resolve(DedupWindow::Fingerprint("t/a"), failed, kT0);
  EXPECT_EQ(waiter_calls, 1);
  EXPECT_FALSE(waiter_ok);
  EXPECT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/a"), kT0, nullptr, &seen),
            DedupWindow::Claim::kNew);
}

TEST(DedupWindow, ForgetsAfterTtlAndCapacity) {
  DedupWindow w(2, absl::Seconds(30));
  Delivery seen;
  for (const char* k : {"t/a", "t/b", "t/c"}) {
    w.ClaimOrWait(DedupWindow::Fingerprint(k), kT0, nullptr, &seen);
    w.Resolve(DedupWindow::Fingerprint(k), Ok(1), kT0);
  }
  // Capacity 2: the oldest is forgotten.
  EXPECT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/a"), kT0, nullptr, &seen),
            DedupWindow::Claim::kNew);
  EXPECT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/c"), kT0, nullptr, &seen),
            DedupWindow::Claim::kPublished);
  // After the TTL nothing published is remembered; "t/a" is still in flight.
  EXPECT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/c"),
                          kT0 + absl::Seconds(31), nullptr, &seen),
            DedupWindow::Claim::kNew);
  EXPECT_EQ(w.ClaimOrWait(
                DedupWindow::Fingerprint("t/a"), kT0 + absl::Seconds(31),
                [](const Delivery&) {}, &seen),
            DedupWindow::Claim::kWaiting);
}

TEST(DedupWindow, TenantsAreSeparateKeys) {
  DedupWindow w(10, absl::Minutes(1));
  Delivery seen;
  w.ClaimOrWait(DedupWindow::Fingerprint("t1/a"), kT0, nullptr, &seen);
  w.Resolve(DedupWindow::Fingerprint("t1/a"), Ok(1), kT0);
  EXPECT_EQ(
      w.ClaimOrWait(DedupWindow::Fingerprint("t2/a"), kT0, nullptr, &seen),
      DedupWindow::Claim::kNew);
}

}  // namespace
}  // namespace rebound::ingest

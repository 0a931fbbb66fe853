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

// An id a predecessor published (read back from Kafka) is a duplicate with
// its partition and offset, a conflict with other content, and forgotten
// after ttl from its publication like any other.
TEST(DedupWindow, RememberedIdsActLikePublishedOnes) {
  DedupWindow w(10, absl::Minutes(1));
  const auto a = DedupWindow::Fingerprint("t", "a");
  const uint32_t digest = DedupWindow::ContentDigest("event a");
  EXPECT_TRUE(w.Remember(a, digest, 4, 17, kT0));
  EXPECT_FALSE(w.Remember(a, digest, 4, 99, kT0));  // Kept as it was.
  Delivery seen;
  DedupWindow::Claim claim;
  DedupWindow::Ticket ticket;
  size_t repeat_of;
  w.ClaimAll(
      absl::MakeConstSpan(&a, 1), kT0 + absl::Seconds(30),
      [](size_t) -> DedupWindow::Waiter { return nullptr; }, &claim, &seen,
      &ticket, &repeat_of, &digest);
  EXPECT_EQ(claim, DedupWindow::Claim::kPublished);
  EXPECT_EQ(seen.partition, 4);
  EXPECT_EQ(seen.offset, 17);
  const uint32_t other = DedupWindow::ContentDigest("another event");
  w.ClaimAll(
      absl::MakeConstSpan(&a, 1), kT0 + absl::Seconds(30),
      [](size_t) -> DedupWindow::Waiter { return nullptr; }, &claim, &seen,
      &ticket, &repeat_of, &other);
  EXPECT_EQ(claim, DedupWindow::Claim::kConflict);
  EXPECT_EQ(w.ClaimOrWait(a, kT0 + absl::Seconds(61), nullptr, &seen),
            DedupWindow::Claim::kNew);
}

// An id reused for a different event (another content digest) is a
// conflict whether the first is published, in flight, or earlier in the same
// batch; the same content stays a duplicate; a digest of 0 matches any.
TEST(DedupWindow, AnIdReusedForOtherContentIsAConflict) {
  DedupWindow w(10, absl::Minutes(1));
  const auto a = DedupWindow::Fingerprint("t/a");
  const auto b = DedupWindow::Fingerprint("t/b");
  const uint32_t one = DedupWindow::ContentDigest("event one");
  const uint32_t two = DedupWindow::ContentDigest("event two");
  ASSERT_NE(one, two);
  EXPECT_EQ(one, DedupWindow::ContentDigest("event one"));
  EXPECT_NE(DedupWindow::ContentDigest(""), 0u);
  Delivery seen[4];
  DedupWindow::Claim claims[4];
  DedupWindow::Ticket tickets[4];
  size_t repeat_of[4];
  int waiters = 0;
  auto make = [&](size_t) -> DedupWindow::Waiter {
    ++waiters;
    return [](const Delivery&) {};
  };
  // Same batch: a twice with other content, b twice with the same.
  std::vector<absl::uint128> fps = {a, a, b, b};
  const uint32_t d1[4] = {one, two, one, one};
  w.ClaimAll(fps, kT0, make, claims, seen, tickets, repeat_of, d1);
  EXPECT_EQ(claims[0], DedupWindow::Claim::kNew);
  EXPECT_EQ(claims[1], DedupWindow::Claim::kConflict);
  EXPECT_EQ(claims[2], DedupWindow::Claim::kNew);
  EXPECT_EQ(claims[3], DedupWindow::Claim::kRepeated);
  // In flight (a later batch): other content conflicts and waits for
  // nothing; the same content waits.
  std::vector<absl::uint128> two_fps = {a, b};
  const uint32_t d2[2] = {two, one};
  w.ClaimAll(two_fps, kT0, make, claims, seen, tickets, repeat_of, d2);
  EXPECT_EQ(claims[0], DedupWindow::Claim::kConflict);
  EXPECT_EQ(claims[1], DedupWindow::Claim::kWaiting);
  EXPECT_EQ(waiters, 1);
  // Published.
  w.Resolve(a, Ok(3), kT0);
  const uint32_t d3[2] = {two, one};
  std::vector<absl::uint128> a_twice = {a, a};
  w.ClaimAll(a_twice, kT0, make, claims, seen, tickets, repeat_of, d3);
  EXPECT_EQ(claims[0], DedupWindow::Claim::kConflict);
  EXPECT_EQ(claims[1], DedupWindow::Claim::kPublished);
  EXPECT_EQ(seen[1].offset, 3);
  // Unknown digest (0): a duplicate as before.
  EXPECT_EQ(w.ClaimOrWait(a, kT0, nullptr, &seen[0]),
            DedupWindow::Claim::kPublished);
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

TEST(DedupWindow, FingerprintOfPartsEqualsFingerprintOfJoinedKey) {
  EXPECT_EQ(DedupWindow::Fingerprint("acme", "evt-1"),
            DedupWindow::Fingerprint("acme/evt-1"));
  std::string long_id(300, 'x');
  EXPECT_EQ(DedupWindow::Fingerprint("acme", long_id),
            DedupWindow::Fingerprint("acme/" + long_id));
}

TEST(DedupWindow, BatchOutcomesApplyTogetherAndReachWaiters) {
  DedupWindow w(10, absl::Minutes(1));
  const auto a = DedupWindow::Fingerprint("t/a");
  const auto b = DedupWindow::Fingerprint("t/b");
  const auto c = DedupWindow::Fingerprint("t/c");
  Delivery seen[4];
  DedupWindow::Claim claims[4];
  DedupWindow::Ticket tickets[4];
  size_t repeat_of[4] = {9, 9, 9, 9};
  int waiters_made = 0;
  std::vector<absl::uint128> fps = {a, b, c, a};
  // The fourth is a copy of the first in the same batch: neither claimed nor
  // waiting (it would wait on its own batch), but pointed at the first.
  w.ClaimAll(
      fps, kT0,
      [&](size_t) -> DedupWindow::Waiter {
        ++waiters_made;
        return [](const Delivery&) {};
      },
      claims, seen, tickets, repeat_of);
  EXPECT_EQ(claims[0], DedupWindow::Claim::kNew);
  EXPECT_EQ(claims[1], DedupWindow::Claim::kNew);
  EXPECT_EQ(claims[2], DedupWindow::Claim::kNew);
  EXPECT_EQ(claims[3], DedupWindow::Claim::kRepeated);
  EXPECT_EQ(repeat_of[3], 0u);
  EXPECT_EQ(waiters_made, 0);

  // b fails alone; a and c are published together.
  Delivery failed;
  failed.status = absl::UnavailableError("broker gone");
  w.Resolve(b, failed, kT0);
  Delivery again;
  EXPECT_EQ(w.ClaimOrWait(b, kT0, nullptr, &again), DedupWindow::Claim::kNew);
  // From another batch, a copy of a waits for it.
  std::vector<int64_t> waited;
  EXPECT_EQ(w.ClaimOrWait(
                a, kT0, [&](const Delivery& d) { waited.push_back(d.offset); },
                &again),
            DedupWindow::Claim::kWaiting);

  std::vector<DedupWindow::Stored> stored = {{tickets[0], a, 3, 11},
                                             {tickets[2], c, 4, 12}};
  w.ResolvePublished(stored, kT0);
  EXPECT_EQ(waited, std::vector<int64_t>{11});
  EXPECT_EQ(w.ClaimOrWait(a, kT0, nullptr, &again),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(again.partition, 3);
  EXPECT_EQ(again.offset, 11);
  EXPECT_EQ(w.ClaimOrWait(c, kT0, nullptr, &again),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(again.offset, 12);
  // An id not in flight (here: already resolved) is ignored.
  std::vector<DedupWindow::Stored> stale = {{tickets[0], a, 9, 99}};
  w.ResolvePublished(stale, kT0);
  EXPECT_EQ(waited.size(), 1u);
  EXPECT_EQ(w.ClaimOrWait(a, kT0, nullptr, &again),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(again.offset, 11);
}

// The window keeps ids in claim order; an id still in flight at the oldest
// end must neither be forgotten nor keep the ids published after it from
// being forgotten, and its ticket must still resolve it.
TEST(DedupWindow, OldestInFlightIdDoesNotHoldBackEviction) {
  DedupWindow w(2, absl::Minutes(1));
  Delivery seen;
  const auto slow = DedupWindow::Fingerprint("t/slow");
  DedupWindow::Ticket slow_ticket = 0;
  ASSERT_EQ(w.ClaimOrWait(slow, kT0, nullptr, &seen, &slow_ticket),
            DedupWindow::Claim::kNew);
  for (const char* k : {"t/a", "t/b", "t/c"}) {
    ASSERT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint(k), kT0, nullptr, &seen),
              DedupWindow::Claim::kNew);
    w.Resolve(DedupWindow::Fingerprint(k), Ok(1), kT0);
  }
  // Capacity 2: a, the oldest published, is forgotten; slow still waits.
  EXPECT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/a"), kT0, nullptr, &seen),
            DedupWindow::Claim::kNew);
  EXPECT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t/c"), kT0, nullptr, &seen),
            DedupWindow::Claim::kPublished);
  int woken = 0;
  EXPECT_EQ(w.ClaimOrWait(
                slow, kT0, [&](const Delivery&) { ++woken; }, &seen),
            DedupWindow::Claim::kWaiting);
  // Resolved by the ticket it was claimed with.
  std::vector<DedupWindow::Stored> stored = {{slow_ticket, slow, 5, 55}};
  w.ResolvePublished(stored, kT0);
  EXPECT_EQ(woken, 1);
  ASSERT_EQ(w.ClaimOrWait(slow, kT0, nullptr, &seen),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(seen.offset, 55);
}

// Far more claims in flight than the ring is sized for (capacity 1000): it
// grows, every ticket still resolves its own id, and once they are all
// published the window keeps the last 1000 claimed.
TEST(DedupWindow, ManyClaimsInFlightAllResolveByTicket) {
  const size_t n = 200'000;
  const size_t capacity = 1000;
  DedupWindow w(capacity, absl::Minutes(1));
  std::vector<absl::uint128> fps(n);
  for (size_t i = 0; i < n; ++i)
    fps[i] = DedupWindow::Fingerprint("t", std::to_string(i));
  std::vector<DedupWindow::Claim> claims(n);
  std::vector<Delivery> seen(n);
  std::vector<DedupWindow::Ticket> tickets(n);
  std::vector<size_t> repeat_of(n);
  w.ClaimAll(
      fps, kT0, [](size_t) -> DedupWindow::Waiter { return nullptr; },
      claims.data(), seen.data(), tickets.data(), repeat_of.data());
  EXPECT_EQ(w.size(), n);
  std::vector<DedupWindow::Stored> stored;
  // Resolved in an order other than claim order.
  for (size_t i = n; i-- > 0;) {
    ASSERT_EQ(claims[i], DedupWindow::Claim::kNew);
    stored.push_back({tickets[i], fps[i], 1, static_cast<int64_t>(i)});
  }
  w.ResolvePublished(stored, kT0);
  EXPECT_EQ(w.size(), capacity);
  for (size_t i : {n - capacity, n - capacity / 2, n - 1}) {
    Delivery d;
    ASSERT_EQ(w.ClaimOrWait(fps[i], kT0, nullptr, &d),
              DedupWindow::Claim::kPublished)
        << i;
    EXPECT_EQ(d.offset, static_cast<int64_t>(i));
  }
  Delivery d;
  EXPECT_EQ(w.ClaimOrWait(fps[n - capacity - 1], kT0, nullptr, &d),
            DedupWindow::Claim::kNew);
  EXPECT_EQ(w.ClaimOrWait(fps[0], kT0, nullptr, &d), DedupWindow::Claim::kNew);
}

// Failed claims free their slots where they are; with the window far from
// full and nothing expired, the head does not pass them for a ttl. A flood
// of failures (Kafka down) must still not grow the ring without bound, and
// what is remembered or in flight must survive the compaction.
TEST(DedupWindow, AFloodOfFailuresDoesNotGrowTheRing) {
  DedupWindow w(1000, absl::Minutes(10));
  Delivery seen;
  const auto in_flight = DedupWindow::Fingerprint("t/slow");
  DedupWindow::Ticket slow_ticket = 0;
  ASSERT_EQ(w.ClaimOrWait(in_flight, kT0, nullptr, &seen, &slow_ticket),
            DedupWindow::Claim::kNew);
  for (int i = 0; i < 10; ++i) {
    const auto fp = DedupWindow::Fingerprint("t", "kept-" + std::to_string(i));
    ASSERT_EQ(w.ClaimOrWait(fp, kT0, nullptr, &seen), DedupWindow::Claim::kNew);
    w.Resolve(fp, Ok(100 + i), kT0);
  }
  const size_t slots = w.ring_slots();
  Delivery failed;
  failed.status = absl::UnavailableError("kafka is unreachable");
  for (int i = 0; i < 300'000; ++i) {
    const auto fp = DedupWindow::Fingerprint("t", "lost-" + std::to_string(i));
    ASSERT_EQ(w.ClaimOrWait(fp, kT0, nullptr, &seen), DedupWindow::Claim::kNew);
    w.Resolve(fp, failed, kT0);
  }
  EXPECT_LE(w.ring_slots(), 4 * slots + 16384);
  EXPECT_EQ(w.size(), 11u);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(w.ClaimOrWait(
                  DedupWindow::Fingerprint("t", "kept-" + std::to_string(i)),
                  kT0, nullptr, &seen),
              DedupWindow::Claim::kPublished);
    EXPECT_EQ(seen.offset, 100 + i);
  }
  // The claim in flight since before the flood still resolves by its old
  // ticket.
  std::vector<DedupWindow::Stored> stored = {{slow_ticket, in_flight, 1, 7}};
  w.ResolvePublished(stored, kT0);
  ASSERT_EQ(w.ClaimOrWait(in_flight, kT0, nullptr, &seen),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(seen.offset, 7);
  EXPECT_EQ(w.ClaimOrWait(DedupWindow::Fingerprint("t", "lost-7"), kT0, nullptr,
                          &seen),
            DedupWindow::Claim::kNew);
}

TEST(DedupWindow, ASecondOutcomeForAnIdChangesNothing) {
  DedupWindow w(2, absl::Minutes(1));
  const auto a = DedupWindow::Fingerprint("t/a");
  const auto b = DedupWindow::Fingerprint("t/b");
  Delivery seen;
  DedupWindow::Ticket ticket_a = 0;
  ASSERT_EQ(w.ClaimOrWait(a, kT0, nullptr, &seen, &ticket_a),
            DedupWindow::Claim::kNew);
  ASSERT_EQ(w.ClaimOrWait(b, kT0, nullptr, &seen), DedupWindow::Claim::kNew);
  w.Resolve(a, Ok(1), kT0);
  w.Resolve(b, Ok(2), kT0);
  // Late or repeated outcomes for a: not recorded again (a second record
  // would count against the capacity of 2 and push a out), not forgotten.
  w.Resolve(a, Ok(5), kT0);
  Delivery failed;
  failed.status = absl::UnavailableError("late failure");
  w.Resolve(a, failed, kT0);
  std::vector<DedupWindow::Stored> again = {{ticket_a, a, 3, 7}};
  w.ResolvePublished(again, kT0);
  ASSERT_EQ(w.ClaimOrWait(a, kT0, nullptr, &seen),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(seen.offset, 1);
  ASSERT_EQ(w.ClaimOrWait(b, kT0, nullptr, &seen),
            DedupWindow::Claim::kPublished);
  EXPECT_EQ(seen.offset, 2);
}

TEST(DedupWindow, CapacityZeroRemembersNoPublishedId) {
  DedupWindow w(0, absl::Minutes(1));
  Delivery seen;
  const auto a = DedupWindow::Fingerprint("t/a");
  ASSERT_EQ(w.ClaimOrWait(a, kT0, nullptr, &seen), DedupWindow::Claim::kNew);
  w.Resolve(a, Ok(1), kT0);
  EXPECT_EQ(w.ClaimOrWait(a, kT0, nullptr, &seen), DedupWindow::Claim::kNew);
}

}  // namespace
}  // namespace rebound::ingest

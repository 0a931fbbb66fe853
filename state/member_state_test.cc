#include "state/member_state.h"

#include "gtest/gtest.h"

namespace rebound::state {
namespace {

RedisValue Hash(const std::vector<std::pair<std::string, std::string>>& kv) {
  RedisValue v;
  v.type = RedisValue::Type::kArray;
  for (const auto& [k, val] : kv) {
    RedisValue a, b;
    a.type = b.type = RedisValue::Type::kString;
    a.str = k;
    b.str = val;
    v.array.push_back(a);
    v.array.push_back(b);
  }
  return v;
}

TEST(UtcDay, FloorsNegativeTimes) {
  EXPECT_EQ(UtcDay(0), 0);
  EXPECT_EQ(UtcDay(86399), 0);
  EXPECT_EQ(UtcDay(86400), 1);
  EXPECT_EQ(UtcDay(-1), -1);
  EXPECT_EQ(UtcDay(-86400), -1);
  EXPECT_EQ(UtcDay(-86401), -2);
}

TEST(SendDayRing, CountsPerDayNewerDaysResetOlderDaysSkip) {
  SendDayRing ring;
  ring.Add(100);
  ring.Add(100);
  ring.Add(101);
  EXPECT_EQ(ring.SentInDays(100, 100), 2);
  EXPECT_EQ(ring.SentInDays(100, 101), 3);
  ring.Add(116);  // Same slot as 100: a newer day resets it.
  EXPECT_EQ(ring.SentInDays(100, 100), 0);
  EXPECT_EQ(ring.SentInDays(116, 116), 1);
  ring.Add(100);  // 16 days behind its slot's day: not counted.
  EXPECT_EQ(ring.SentInDays(0, 200), 2);
  ring.Add(-3);  // Before 1970: slot 13.
  ring.Add(-3);
  EXPECT_EQ(ring.SentInDays(-3, -3), 2);
}

TEST(SendDayRing, ADaysCountSaturatesRatherThanCarryIntoTheDay) {
  SendDayRing ring;
  ring.Add(100);
  ring.slots[SendDayRing::Slot(100)] =
      100 * SendDayRing::kShift + SendDayRing::kShift - 2;
  ring.Add(100);
  ring.Add(100);
  EXPECT_EQ(ring.SentInDays(100, 100), SendDayRing::kShift - 1);
  EXPECT_EQ(ring.SentInDays(101, 101), 0);
}

TEST(DecodeAcceptHours, BigEndianU32PerHourShortStringsZeroFilled) {
  // What BITFIELD INCRBY u32 #i writes: 4 bytes per counter, MSB first;
  // Redis stores only up to the highest byte written.
  std::string bytes(4 * 3, '\0');
  bytes[3] = 5;   // hour 0 = 5
  bytes[8] = 1;   // hour 2 = 2^24
  bytes[11] = 2;  // ... + 2
  auto h = DecodeAcceptHours(bytes);
  EXPECT_EQ(h[0], 5);
  EXPECT_EQ(h[1], 0);
  EXPECT_EQ(h[2], (int64_t{1} << 24) + 2);
  EXPECT_EQ(h[3], 0);
  EXPECT_EQ(h[167], 0);
  std::string full(4 * 168, '\xff');
  EXPECT_EQ(DecodeAcceptHours(full)[167], 0xffffffffLL);
  // A partial last counter (not written by BITFIELD) reads zero-padded.
  EXPECT_EQ(DecodeAcceptHours(std::string("\x01", 1))[0], 1LL << 24);
}

TEST(SenderState, SentInDaysReadsOnlySlotsOfThoseDays) {
  auto s = DecodeSender(Hash({
      {"sent", "9"},
      {"d3", std::to_string(19 * SendDayRing::kShift + 4)},  // day 19: 4
      {"d4", std::to_string(20 * SendDayRing::kShift + 2)},  // day 20: 2
      {"d5", std::to_string(5 * SendDayRing::kShift + 7)},  // day 5: stale slot
      {"d15", std::to_string(15 * SendDayRing::kShift + 1)},  // day 15: 1
      {"dx", "3"},                                            // ignored
      {"d16", "3"},                                           // out of ring
  }));
  EXPECT_EQ(s.sent, 9);
  EXPECT_EQ(s.send_days.SentInDays(13, 19), 5);  // days 15 and 19
  EXPECT_EQ(s.send_days.SentInDays(20, 20), 2);
  EXPECT_EQ(s.send_days.SentInDays(6, 12), 0);  // day 5's count is not in range
  EXPECT_EQ(s.send_days.SentInDays(5, 5), 7);
}

TEST(AnswerRing, WeeksStartOnMondayNewerWeeksResetOlderWeeksSkip) {
  EXPECT_EQ(UtcWeek(3), 0);  // 1970-01-04, a Sunday
  EXPECT_EQ(UtcWeek(4), 1);  // 1970-01-05, a Monday
  EXPECT_EQ(UtcWeek(10), 1);
  EXPECT_EQ(UtcWeek(11), 2);
  EXPECT_EQ(UtcWeek(-4), -1);
  AnswerRing ring;
  EXPECT_EQ(ring.Add(10, Answer::kAccepted), 2);
  ring.Add(10, Answer::kSpam);
  ring.Add(11, Answer::kIgnored);
  ring.Add(13, Answer::kDontKnow);
  // As of a day in week 13: weeks 10..13.
  const int64_t day13 = 7 * 13 - 3;
  AnswerCounts want{
      .accepted = 1, .declined = 0, .ignored = 1, .dont_know = 1, .spam = 1};
  EXPECT_EQ(ring.Recent(day13), want);
  // A month later with no new answer, they have aged out.
  EXPECT_EQ(ring.Recent(day13 + 28).total(), 0);
  // Week 14 takes week 10's slot; week 10 is then too old to count.
  ring.Add(14, Answer::kDeclined);
  EXPECT_EQ(ring.Add(10, Answer::kAccepted), -1);
  EXPECT_EQ(ring.InWeeks(10, 10).total(), 0);
  EXPECT_EQ(ring.Recent(7 * 14 - 3).declined, 1);
  EXPECT_EQ(ring.Recent(7 * 14 - 3).total(), 3);  // weeks 11, 13, 14
}

TEST(AnswerRing, FieldsRoundTripAndBadValuesReadEmpty) {
  AnswerRing ring;
  ring.Add(21, Answer::kIgnored);
  ring.Add(21, Answer::kAccepted);
  const std::string field = AnswerRing::Field(AnswerRing::Slot(21));
  EXPECT_EQ(field, "a1");
  const std::string value = AnswerRing::Encode(ring.slots[1]);
  EXPECT_EQ(value, "21:1:0:1:0:0");
  auto s = DecodeSender(Hash({{"accepted", "4"},
                              {field, value},
                              {"a0", "20:1:2"},           // too few parts
                              {"a2", "22:1:-1:0:0:0"},    // negative count
                              {"a3", "22:1:1:1:1:1"},     // week not of slot
                              {"a4", "24:1:1:1:1:1"}}));  // out of ring
  EXPECT_EQ(s.accepted, 4);
  AnswerCounts want;
  want.accepted = 1;
  want.ignored = 1;
  EXPECT_EQ(s.answers.InWeeks(0, 100), want);
  const auto recent = RecentAnswersOf(s, 7 * 21 - 3 + 2);
  EXPECT_EQ(recent.window_weeks(), 4);
  EXPECT_EQ(recent.window_days(), 24);  // 3 whole weeks and 3 days
  EXPECT_EQ(recent.ignored(), 1);
  EXPECT_EQ(recent.accepted(), 1);
}

// A member with answers from before its ring (an upgrade) reads all its
// answers until the ring reaches back over the window; one whose ring was
// never written reads its all-time counters; then the window as usual.
TEST(AnswerRing, AnswersFromBeforeTheRingCountUntilItCoversTheWindow) {
  AnswerRing ring;
  ring.before = {.used = true,
                 .week = 20,
                 .counts = {.accepted = 3, .declined = 1, .dont_know = 2}};
  ring.Add(20, Answer::kSpam);
  ring.Add(21, Answer::kAccepted);
  const AnswerCounts none;
  const int64_t day21 = 7 * 21 - 3;  // Monday of week 21
  auto v = ring.RecentOrAllTime(day21, none);
  EXPECT_TRUE(v.all_time);
  EXPECT_EQ(
      v.counts,
      (AnswerCounts{.accepted = 4, .declined = 1, .dont_know = 2, .spam = 1}));
  // Week 22: the window (19..22) still starts before the ring.
  EXPECT_TRUE(ring.RecentOrAllTime(day21 + 7, none).all_time);
  // Week 23: the window (20..23) is all the ring's: recent answers only.
  v = ring.RecentOrAllTime(day21 + 14, none);
  EXPECT_FALSE(v.all_time);
  EXPECT_EQ(v.counts, (AnswerCounts{.accepted = 1, .spam = 1}));

  AnswerRing never;
  // As before the ring: expiries not counted, reports as dont_know.
  const AnswerCounts totals = AnswerCounts::FromTotals(5, 4, 1);
  EXPECT_EQ(totals,
            (AnswerCounts{.accepted = 5, .declined = 3, .dont_know = 1}));
  v = never.RecentOrAllTime(day21, totals);
  EXPECT_TRUE(v.all_time);
  EXPECT_EQ(v.counts, totals);
  v = never.RecentOrAllTime(day21, none);
  EXPECT_FALSE(v.all_time);
  EXPECT_EQ(v.counts.total(), 0);

  // Through the sender hash: "ar0" read back, and the flag on the wire.
  auto s = DecodeSender(Hash({{"accepted", "4"},
                              {"declined", "2"},
                              {"reported", "2"},
                              {"ar0", "21:3:0:0:2:0"},
                              {"a1", "21:1:0:0:0:0"}}));
  auto recent = RecentAnswersOf(s, day21 + 1);
  EXPECT_TRUE(recent.all_time());
  EXPECT_EQ(recent.window_weeks(), 0);
  EXPECT_EQ(recent.accepted(), 4);
  EXPECT_EQ(recent.dont_know(), 2);
  recent = RecentAnswersOf(s, day21 + 21);
  EXPECT_FALSE(recent.all_time());
  EXPECT_EQ(recent.window_weeks(), 4);
  EXPECT_EQ(recent.accepted(), 1);
  // No ring ever written: the all-time counters, as before the ring.
  s = DecodeSender(Hash({{"accepted", "4"}, {"declined", "2"}}));
  recent = RecentAnswersOf(s, day21);
  EXPECT_TRUE(recent.all_time());
  EXPECT_EQ(recent.declined(), 2);
}

TEST(DerivedScores, FromCountersOnly) {
  SenderState s;
  EXPECT_DOUBLE_EQ(AcceptanceRate(s), 0.5);
  EXPECT_DOUBLE_EQ(SpamRisk(s), 0);
  EXPECT_DOUBLE_EQ(Reputation(s), 50);
  s.accepted = 2;
  s.declined = 2;
  s.reported = 1;
  s.declines_by_reason["DECLINE_REASON_SPAMMY_PROFILE"] = 1;
  EXPECT_DOUBLE_EQ(AcceptanceRate(s), 0.5);
  EXPECT_DOUBLE_EQ(SpamRisk(s), 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(Reputation(s), 100 * 0.5 * (4.0 / 7.0));
  RecipientState r;
  EXPECT_DOUBLE_EQ(Selectivity(r), 0.5);
  r.received = 8;
  r.accepted = 1;
  EXPECT_DOUBLE_EQ(Selectivity(r), 0.8);
}

TEST(DecodePair, FieldsAndUnknownsAndJunk) {
  RedisValue v;
  v.type = RedisValue::Type::kString;
  v.str = "3:100:200:";
  PairState p = DecodePair(v);
  EXPECT_EQ(p.requests, 3);
  EXPECT_EQ(p.prev_sent_at, 100);
  EXPECT_EQ(p.last_sent_at, 200);
  EXPECT_FALSE(p.last_view_at.has_value());
  v.str = "0:::-5";
  p = DecodePair(v);
  EXPECT_EQ(p.requests, 0);
  EXPECT_FALSE(p.last_sent_at.has_value());
  EXPECT_EQ(p.last_view_at, -5);
  for (const char* junk : {"", "1:2:3", "x:1:2:3", "1:a:2:3", "1:2:3:4:5"}) {
    v.str = junk;
    p = DecodePair(v);
    EXPECT_EQ(p.requests, 0) << junk;
    EXPECT_FALSE(p.last_sent_at.has_value()) << junk;
  }
  EXPECT_EQ(DecodePair(RedisValue()).requests, 0);
}

TEST(DecodeRecipient, CountersOffsetAndHours) {
  RedisValue hours;
  hours.type = RedisValue::Type::kString;
  hours.str = std::string("\0\0\0\x03", 4);
  auto r = DecodeRecipient(
      Hash({{"received", "4"}, {"accepted", "3"}, {"utc_offset", "-300"}}),
      hours);
  EXPECT_EQ(r.received, 4);
  EXPECT_EQ(r.accepted, 3);
  EXPECT_EQ(r.utc_offset_minutes, -300);
  EXPECT_EQ(r.accept_hours[0], 3);
  auto empty = DecodeRecipient(RedisValue(), RedisValue());
  EXPECT_FALSE(empty.utc_offset_minutes.has_value());
  EXPECT_EQ(empty.accept_hours[0], 0);
}

}  // namespace
}  // namespace rebound::state

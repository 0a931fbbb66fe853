#include "state/sender_cache.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "state/keys.h"

namespace rebound::state {
namespace {

using rebound::v1::ConnectionEvent;

ConnectionEvent Sent(const std::string& sender, const std::string& request,
                     int64_t at) {
  ConnectionEvent e;
  e.set_event_id("e-" + sender + "-" + request);
  e.set_tenant_id("acme");
  e.set_sender_id(sender);
  e.set_recipient_id("r-" + request);
  e.mutable_occurred_at()->set_seconds(at);
  e.mutable_request_sent()->set_request_id(request);
  return e;
}

// Loads what `e` needs (every key absent in Redis: nil replies), applies it
// and takes its writes, as ScoreStore::RunSteps does; returns the keys the
// load asked Redis for.
std::vector<std::string> Apply1(SenderCache& cache, const ConnectionEvent& e) {
  const auto calls = cache.LoadsFor({&e});
  std::vector<std::string> asked;
  for (const auto& c : calls) asked.push_back(c[1]);
  cache.Loaded(std::vector<RedisValue>(calls.size()));
  EXPECT_TRUE(cache.Apply(e, nullptr, e.occurred_at().seconds() * 1000).ok());
  (void)cache.TakeWrites();
  cache.Trim();
  return asked;
}

bool Asked(const std::vector<std::string>& asked, const std::string& key) {
  for (const auto& k : asked) {
    if (k == key) return true;
  }
  return false;
}

// The fields the next transaction writes to `key`'s hash (HSET pairs).
std::map<std::string, std::string> HsetFields(SenderCache& cache,
                                              const std::string& key) {
  std::map<std::string, std::string> out;
  for (const auto& group : cache.TakeWrites()) {
    for (const auto& step : group) {
      const auto* argv = std::get_if<std::vector<std::string>>(&step);
      if (argv == nullptr || (*argv)[0] != "HSET" || (*argv)[1] != key) {
        continue;
      }
      for (size_t i = 2; i + 1 < argv->size(); i += 2) {
        out[(*argv)[i]] = (*argv)[i + 1];
      }
    }
  }
  return out;
}

// The sender hash's "sent" counter as the next transaction would write it.
std::string SentCount(SenderCache& cache, const std::string& sender,
                      const std::string& request, int64_t at) {
  const ConnectionEvent e = Sent(sender, request, at);
  const auto calls = cache.LoadsFor({&e});
  cache.Loaded(std::vector<RedisValue>(calls.size()));
  EXPECT_TRUE(cache.Apply(e, nullptr, at * 1000).ok());
  return HsetFields(cache, MemberKeys("acme", sender).Sender())["sent"];
}

TEST(SenderCacheTrim, KeepsWhatWasTouchedLatelyAndNeverEmptiesAtOnce) {
  // Each send holds three entries (sender hash, request hash, pair) and the
  // recipient's utc-offset check: a bound of 40 flips every ~5 senders.
  SenderCache::Options options;
  options.max_entries = 40;
  SenderCache cache(options);
  const int64_t t0 = 1'700'000'000;
  const std::string carol = MemberKeys("acme", "carol").Sender();
  EXPECT_TRUE(Asked(Apply1(cache, Sent("carol", "q0", t0)), carol));
  for (int i = 0; i < 30; ++i) {
    // Carol keeps sending between others: she is never loaded again, and
    // her counter carries on from what the cache holds.
    const auto asked =
        Apply1(cache, Sent("s" + std::to_string(i), "q", t0 + i));
    EXPECT_FALSE(Asked(asked, carol));
    EXPECT_LE(cache.entries(), 40u);
    EXPECT_FALSE(
        Asked(Apply1(cache, Sent("carol", "q" + std::to_string(i + 1), t0 + i)),
              carol))
        << "send " << i;
  }
  EXPECT_EQ(SentCount(cache, "carol", "q-last", t0 + 100), "32");
  // A sender untouched for two generations is dropped and loaded again.
  for (int i = 0; i < 40; ++i) {
    Apply1(cache, Sent("t" + std::to_string(i), "q", t0 + i));
  }
  EXPECT_GT(cache.entries(), 0u);
  EXPECT_TRUE(Asked(Apply1(cache, Sent("carol", "q-again", t0 + 200)), carol));
}

TEST(SenderCacheTrim, ForgetDropsBothGenerations) {
  SenderCache::Options options;
  options.max_entries = 8;
  SenderCache cache(options);
  const int64_t t0 = 1'700'000'000;
  Apply1(cache, Sent("carol", "q0", t0));
  Apply1(cache, Sent("dave", "q0", t0));  // Carol's keys are old now.
  cache.Forget();
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_TRUE(Asked(Apply1(cache, Sent("carol", "q1", t0)),
                    MemberKeys("acme", "carol").Sender()));
}

RedisValue HashReply(
    const std::vector<std::pair<std::string, std::string>>& kv) {
  RedisValue v;
  v.type = RedisValue::Type::kArray;
  for (const auto& [k, val] : kv) {
    for (const std::string* x : {&k, &val}) {
      RedisValue a;
      a.type = RedisValue::Type::kString;
      a.str = *x;
      v.array.push_back(a);
    }
  }
  return v;
}

// An accept of `sender`'s request whose sender hash in Redis holds `hash`;
// returns what the transaction writes to that hash.
std::map<std::string, std::string> AcceptWith(
    const std::string& sender,
    const std::vector<std::pair<std::string, std::string>>& hash, int64_t at,
    int64_t record_s = 0) {
  SenderCache cache(SenderCache::Options{});
  ConnectionEvent e;
  e.set_event_id("acc-" + sender);
  e.set_tenant_id("acme");
  e.set_sender_id(sender);
  e.set_recipient_id("r1");
  e.mutable_occurred_at()->set_seconds(at);
  e.mutable_request_accepted()->set_request_id("q1");
  const std::string key = MemberKeys("acme", sender).Sender();
  const auto calls = cache.LoadsFor({&e});
  std::vector<RedisValue> replies;
  for (const auto& c : calls) {
    replies.push_back(c[1] == key ? HashReply(hash) : RedisValue{});
  }
  cache.Loaded(std::move(replies));
  EXPECT_TRUE(
      cache.Apply(e, nullptr, (record_s > 0 ? record_s : at) * 1000).ok());
  return HsetFields(cache, key);
}

// A member with answers from before the answer ring (an upgrade) gets them
// kept beside the ring when its first slot is written; a new member, or
// one whose ring was already kept, does not.
TEST(SenderCacheAnswerRing, AnswersFromBeforeTheRingAreKeptWithItsFirstSlot) {
  const int64_t at = 1'700'000'000;  // 2023-11-14, UTC week 2811
  const int64_t week = UtcWeek(at / 86400);
  const std::string slot = AnswerRing::Field(AnswerRing::Slot(week));
  auto veteran = AcceptWith("old",
                            {{"sent", "30"},
                             {"accepted", "10"},
                             {"declined", "5"},
                             {"reported", "2"},
                             {"expired", "1"}},
                            at);
  EXPECT_EQ(veteran["accepted"], "11");
  EXPECT_EQ(veteran[slot], absl::StrCat(week, ":1:0:0:0:0"));
  // Before: 10 accepted, 3 declined, 2 reported (the expiry is not counted,
  // as before the ring).
  EXPECT_EQ(veteran["ar0"], absl::StrCat(week, ":10:3:0:2:0"));
  // The first answer after the upgrade is a late one, 6 weeks old when it
  // reached Kafka: the earlier answers are dated by its record time (now),
  // so they still count until the ring covers the window from now.
  auto late = AcceptWith("late", {{"accepted", "3"}}, at - 6 * 7 * 86400, at);
  EXPECT_EQ(late["ar0"], absl::StrCat(week, ":3:0:0:0:0"));

  auto fresh = AcceptWith("new", {{"sent", "1"}}, at);
  EXPECT_EQ(fresh[slot], absl::StrCat(week, ":1:0:0:0:0"));
  EXPECT_FALSE(fresh.contains("ar0"));

  const std::string other = AnswerRing::Field(AnswerRing::Slot(week - 1));
  auto kept = AcceptWith("kept",
                         {{"sent", "9"},
                          {"accepted", "4"},
                          {other, absl::StrCat(week - 1, ":4:0:0:0:0")}},
                         at);
  EXPECT_EQ(kept[slot], absl::StrCat(week, ":1:0:0:0:0"));
  EXPECT_FALSE(kept.contains("ar0"));
}

}  // namespace
}  // namespace rebound::state

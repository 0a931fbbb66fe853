#include "state/sender_cache.h"

#include <string>
#include <vector>

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

// The sender hash's "sent" counter as the next transaction would write it.
std::string SentCount(SenderCache& cache, const std::string& sender,
                      const std::string& request, int64_t at) {
  const ConnectionEvent e = Sent(sender, request, at);
  const auto calls = cache.LoadsFor({&e});
  cache.Loaded(std::vector<RedisValue>(calls.size()));
  EXPECT_TRUE(cache.Apply(e, nullptr, at * 1000).ok());
  const std::string key = MemberKeys("acme", sender).Sender();
  for (const auto& group : cache.TakeWrites()) {
    for (const auto& step : group) {
      const auto* argv = std::get_if<std::vector<std::string>>(&step);
      if (argv == nullptr || (*argv)[0] != "HSET" || (*argv)[1] != key) {
        continue;
      }
      for (size_t i = 2; i + 1 < argv->size(); i += 2) {
        if ((*argv)[i] == "sent") return (*argv)[i + 1];
      }
    }
  }
  return "";
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

}  // namespace
}  // namespace rebound::state

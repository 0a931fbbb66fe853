#include "state/keys.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "state/epoch.h"

namespace rebound::state {
namespace {

// What Redis Cluster hashes: the text between the first '{' and the next
// '}', when non-empty; else the whole key.
std::string HashTag(const std::string& key) {
  auto open = key.find('{');
  if (open == std::string::npos) return key;
  auto close = key.find('}', open + 1);
  if (close == std::string::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::string CodePoints(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i % 2) ? "\xF0\x9F\x98\x80" : "\xC3\xA9";
  return s;
}

// Every id shape the key layout must survive.
const std::vector<std::string>& Ids() {
  static const std::vector<std::string> ids = {
      "carol",
      "carol}:req:Y",
      "Y}:sends",
      "{carol}",
      "}{",
      "a:b:c",
      "a/b",
      "acme/carol",
      "with space",
      "%41",
      "A",
      std::string("nul\0byte", 8),
      "tab\tnew\nline\r\x1f\x7f",
      "*?[glob]\\",
      "",
      CodePoints(128),
      "sends",
      "snd",
      "req:x",
  };
  return ids;
}

std::vector<std::string> AllKeysOf(const MemberKeys& m,
                                   const std::string& sub) {
  return {m.Sender(),
          m.Recipient(),
          m.AcceptHours(),
          m.Request(sub),
          m.Pair(sub),
          m.ReceivedMarker(sub, false),
          m.ReceivedMarker(sub, true),
          m.Works(),
          m.Suggestion(sub),
          m.Suggestions(),
          m.Waiting(),
          m.Retries(sub),
          m.Flags(),
          m.Stream()};
}

TEST(EscapeId, OnlySafeBytesAndPercentEscapes) {
  for (const auto& id : Ids()) {
    const std::string e = EscapeId(id);
    for (size_t i = 0; i < e.size(); ++i) {
      const char c = e[i];
      const bool safe = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
                        c == '-';
      if (c == '%') {
        ASSERT_LE(i + 2, e.size() - 1) << e;
        i += 2;
        continue;
      }
      EXPECT_TRUE(safe) << "byte " << int(c) << " in " << e;
    }
  }
}

TEST(EscapeId, IsInjective) {
  std::mt19937 rng(7);
  std::set<std::string> raw, escaped;
  for (int i = 0; i < 50'000; ++i) {
    std::string s(rng() % 6, '\0');
    for (auto& c : s) c = "a%4{}:/ \x01\xC3"[rng() % 10];
    if (raw.insert(s).second) {
      EXPECT_TRUE(escaped.insert(EscapeId(s)).second) << s;
    }
  }
}

TEST(MemberKeys, EveryKeyOfAMemberHasExactlyItsTag) {
  for (const auto& tenant : {std::string("acme"), std::string("a}c{me:")}) {
    for (const auto& member : Ids()) {
      const MemberKeys m(tenant, member);
      const std::string tag = HashTag(m.prefix());
      EXPECT_EQ(tag, EscapeId(tenant) + "/" + EscapeId(member));
      for (const auto& sub : Ids()) {
        for (const auto& key : AllKeysOf(m, sub)) {
          EXPECT_EQ(HashTag(key), tag) << key;
        }
      }
    }
  }
}

TEST(MemberKeys, NoTwoMembersOrKindsShareAKey) {
  // Every (tenant, member, kind, sub-id) gives its own key: no id reaches
  // another member's keys or another kind of key.
  std::set<std::string> keys;
  size_t built = 0;
  std::set<std::string> tags;
  for (const auto& tenant :
       {std::string("acme"), std::string("acme/carol"), std::string("")}) {
    const TenantKeys t(tenant);
    for (const auto& key :
         {t.Stream(), t.Pending(), t.Clock(), t.Works(), t.AtRisk()}) {
      keys.insert(key);
      ++built;
    }
    for (const auto& sub : Ids()) {
      for (const auto& key :
           {t.StreamMarker(sub, 1), t.StreamMarker(sub, 12)}) {
        keys.insert(key);
        ++built;
      }
    }
    EXPECT_TRUE(tags.insert(HashTag(t.prefix())).second);
    for (const auto& member : Ids()) {
      const MemberKeys m(tenant, member);
      EXPECT_TRUE(tags.insert(HashTag(m.prefix())).second) << m.prefix();
      for (const auto& sub : Ids()) {
        std::vector<std::string> all = AllKeysOf(m, sub);
        for (size_t i = 0; i < all.size(); ++i) {
          // Keys without a sub-id repeat for every sub; count them once.
          const bool per_sub = (i >= 3 && i <= 6) || i == 8 || i == 11;
          if (!per_sub && &sub != &Ids()[0]) continue;
          keys.insert(all[i]);
          ++built;
        }
      }
    }
  }
  EXPECT_EQ(keys.size(), built);
}

TEST(MemberKeys, TheBraceAttackNoLongerCollides) {
  // Member "carol}:req:Y" used to build rb:{acme/carol}:req:Y}:sends, the
  // name of member carol's request "Y}:sends".
  const MemberKeys evil("acme", "carol}:req:Y");
  const MemberKeys carol("acme", "carol");
  for (const auto& a : AllKeysOf(evil, "x")) {
    for (const auto& b : AllKeysOf(carol, "Y}:sends")) {
      EXPECT_NE(a, b);
    }
  }
  EXPECT_NE(HashTag(evil.Sender()), HashTag(carol.Sender()));
}

TEST(PendingEntry, RoundTripsEveryIdShape) {
  std::set<std::string> entries;
  for (const auto& a : Ids()) {
    for (const auto& b : {std::string("x"), std::string("x:y\x1f")}) {
      const std::string e = PendingEntry(a, b, a + b);
      EXPECT_TRUE(entries.insert(e).second) << e;
      std::string s, r, q;
      ASSERT_TRUE(ParsePendingEntry(e, &s, &r, &q)) << e;
      EXPECT_EQ(s, a);
      EXPECT_EQ(r, b);
      EXPECT_EQ(q, a + b);
    }
  }
  std::string s, r, q;
  EXPECT_FALSE(ParsePendingEntry("a:b", &s, &r, &q));
  EXPECT_FALSE(ParsePendingEntry("a:b:c:d", &s, &r, &q));
  EXPECT_FALSE(ParsePendingEntry("a:b:%4", &s, &r, &q));
  EXPECT_FALSE(ParsePendingEntry("a:b:%zz", &s, &r, &q));
  EXPECT_FALSE(ParsePendingEntry("a b:c:d", &s, &r, &q));
}

TEST(IsScoringKey, ScoringsKeysOnly) {
  for (const auto& member : Ids()) {
    const MemberKeys m("acme", member);
    for (const auto& sub : Ids()) {
      const std::vector<std::string> all = AllKeysOf(m, sub);
      for (size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(IsScoringKey(all[i]), i <= 7) << all[i];
      }
    }
  }
  // The tenant's pending invites are added by scoring with each request.
  for (const auto& tenant : Ids()) {
    const TenantKeys t(tenant);
    EXPECT_TRUE(IsScoringKey(t.Pending())) << tenant;
    EXPECT_TRUE(IsScoringKey(t.Clock())) << tenant;
    EXPECT_TRUE(IsScoringKey(t.Works())) << tenant;
    EXPECT_TRUE(IsScoringKey(t.AtRisk())) << tenant;
    EXPECT_FALSE(IsNotifyKey(t.AtRisk())) << tenant;
    EXPECT_FALSE(IsNotifyKey(t.Works())) << tenant;
    EXPECT_FALSE(IsNotifyKey(t.Clock())) << tenant;
    EXPECT_FALSE(IsScoringKey(t.Stream())) << tenant;
    EXPECT_FALSE(IsScoringKey(t.StreamMarker(tenant, 3))) << tenant;
  }
  EXPECT_TRUE(IsScoringKey(TenantsKey()));
  EXPECT_FALSE(IsScoringKey(EpochKey()));
}

TEST(IsNotifyKey, NotifysKeysOnly) {
  for (const auto& member : Ids()) {
    const MemberKeys m("acme", member);
    for (const auto& sub : Ids()) {
      const std::vector<std::string> all = AllKeysOf(m, sub);
      for (size_t i = 0; i < all.size(); ++i) {
        EXPECT_EQ(IsNotifyKey(all[i]), i > 7) << all[i];
      }
    }
  }
  for (const auto& tenant : Ids()) {
    const TenantKeys t(tenant);
    EXPECT_FALSE(IsNotifyKey(t.Pending())) << tenant;
    EXPECT_TRUE(IsNotifyKey(t.Stream())) << tenant;
    EXPECT_TRUE(IsNotifyKey(t.StreamMarker(tenant, 3))) << tenant;
  }
  EXPECT_FALSE(IsNotifyKey(TenantsKey()));
  EXPECT_FALSE(IsNotifyKey(EpochKey()));
  EXPECT_FALSE(IsNotifyKey(NotifyEpochKey()));
  EXPECT_FALSE(IsScoringKey(NotifyEpochKey()));
}

TEST(MemberKeysPattern, MatchesOnlyTheTenantsMembers) {
  EXPECT_EQ(MemberKeysPattern("acme"), "rb:{acme/*");
  EXPECT_EQ(MemberKeysPattern("a*b"), "rb:{a%2Ab/*");
  EXPECT_EQ(MemberKeys("a*b", "m").prefix().rfind("rb:{a%2Ab/", 0), 0u);
}

// The epoch's cluster copies: one key per Redis Cluster slot, each in its
// slot, none a key a rebuild removes.
TEST(EpochSlotKey, EachSlotHasItsOwnCopy) {
  Epoch epoch(EpochKey(), "the rebuild");
  std::set<std::string> keys;
  for (int slot = 0; slot < 16384; ++slot) {
    const std::string key = epoch.SlotKey(slot);
    ASSERT_EQ(RedisClusterSlot(key), slot) << key;
    EXPECT_FALSE(IsScoringKey(key)) << key;
    EXPECT_FALSE(IsNotifyKey(key)) << key;
    keys.insert(key);
  }
  EXPECT_EQ(keys.size(), 16384u);
}

}  // namespace
}  // namespace rebound::state

// SuggestionStore against a real redis-server: each (suggestion, version)
// is written and streamed once however often it is put, pages cover the
// list exactly once in order, the stream reads back in id order, and a
// stored suggestion that does not decode is never served (and counted).
#include "services/notify/suggestion_store.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/redis_client.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "services/notify/stream_id.h"
#include "state/keys.h"
#include "tests/test_support.h"

namespace rebound::notify {
namespace {

using rebound::v1::RetrySuggestion;

class SuggestionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = testing::RequiredEnv("REBOUND_REDIS_ADDR");
    ASSERT_FALSE(address_.empty());
    tenant_ = testing::UniqueTopic("ss");
    options_.redis.address = address_;
    options_.corrupt =
        &prometheus::BuildCounter().Name("corrupt").Register(registry_).Add({});
    store_ = std::make_unique<SuggestionStore>(options_);
    ASSERT_TRUE(store_->Ping().ok()) << "redis at " << address_;
  }

  RetrySuggestion Make(const std::string& member, int i, int version = 1) {
    RetrySuggestion s;
    s.set_tenant_id(tenant_);
    s.set_member_id(member);
    s.set_suggestion_id(absl::StrCat("s", i));
    s.set_recipient_id(absl::StrCat("r", i));
    s.set_version(version);
    s.set_state(rebound::v1::SUGGESTION_STATE_READY);
    // Created one second apart: s0 oldest.
    s.mutable_created_at()->set_seconds(1'700'000'000 + i);
    s.mutable_updated_at()->set_seconds(1'700'000'000 + i + version);
    return s;
  }

  std::string address_, tenant_;
  prometheus::Registry registry_;
  SuggestionStoreOptions options_;
  std::unique_ptr<SuggestionStore> store_;
};

TEST_F(SuggestionStoreTest, EachVersionIsWrittenAndStreamedOnce) {
  auto first = store_->Put(Make("m", 1), {"no_photo"});
  ASSERT_TRUE(first.ok()) << first.status();
  // A replay of the same version: the stored one comes back, nothing new.
  auto again = store_->Put(Make("m", 1), {"no_photo"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  auto v2 = Make("m", 1, 2);
  v2.set_state(rebound::v1::SUGGESTION_STATE_ACTED);
  ASSERT_TRUE(store_->Put(v2, {}).ok());
  ASSERT_TRUE(store_->Put(v2, {}).ok());

  auto got = store_->Get(tenant_, "m", "s1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->version(), 2);
  auto entries = store_->Read(tenant_, "m", "0-0", absl::ZeroDuration(), 100);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].suggestion.version(), 1);
  EXPECT_EQ((*entries)[1].suggestion.version(), 2);
  EXPECT_TRUE(StreamIdLess((*entries)[0].id, (*entries)[1].id));
  // The tenant's stream too, each version once; on a standalone Redis the
  // put appends it in the same call as the version check, so no marker key
  // per version is left behind.
  auto tenant = store_->Read(tenant_, "", "0-0", absl::ZeroDuration(), 100);
  ASSERT_TRUE(tenant.ok()) << tenant.status();
  ASSERT_EQ(tenant->size(), 2u);
  EXPECT_EQ((*tenant)[0].suggestion.version(), 1);
  EXPECT_EQ((*tenant)[1].suggestion.version(), 2);
  RedisClient redis(options_.redis);
  auto markers =
      redis.Command({"EXISTS", state::TenantKeys(tenant_).StreamMarker("s1", 1),
                     state::TenantKeys(tenant_).StreamMarker("s1", 2)});
  ASSERT_TRUE(markers.ok()) << markers.status();
  EXPECT_EQ(markers->integer, 0) << "a marker key per version on standalone";
  // The red flag was counted with the first version only.
  auto insights = store_->Insights(tenant_, "m", 5);
  ASSERT_TRUE(insights.ok()) << insights.status();
  ASSERT_EQ(insights->red_flags.size(), 1u);
  EXPECT_EQ(insights->red_flags[0],
            (std::pair<std::string, int64_t>("no_photo", 1)));
  // One suggestion, in the state of its latest version; no scoring state
  // was written.
  EXPECT_EQ(insights->suggestions_by_state,
            (std::map<std::string, int64_t>{{"SUGGESTION_STATE_ACTED", 1}}));
  EXPECT_FALSE(insights->scores.has_value());
}

// A version that comes too late (two newer ones landed since it was read)
// is not written, and the caller gets the stored one back, not its own copy:
// MarkActed and Dismiss decide on that whether their change landed.
TEST_F(SuggestionStoreTest, AVersionThatCameTooLateGetsTheStoredOneBack) {
  ASSERT_TRUE(store_->Put(Make("m", 1), {}).ok());
  ASSERT_TRUE(store_->Put(Make("m", 1, 2), {}).ok());
  auto v3 = Make("m", 1, 3);
  v3.set_state(rebound::v1::SUGGESTION_STATE_DISMISSED);
  ASSERT_TRUE(store_->Put(v3, {}).ok());
  auto late = Make("m", 1, 2);
  late.set_state(rebound::v1::SUGGESTION_STATE_ACTED);
  auto got = store_->Put(late, {});
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->version(), 3);
  EXPECT_EQ(got->state(), rebound::v1::SUGGESTION_STATE_DISMISSED);
  auto batch = store_->PutBatch({{late, {}}});
  ASSERT_TRUE(batch.ok()) << batch.status();
  ASSERT_EQ(batch->size(), 1u);
  EXPECT_EQ((*batch)[0].version(), 3);
  auto stored = store_->Get(tenant_, "m", "s1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->state(), rebound::v1::SUGGESTION_STATE_DISMISSED);
}

TEST_F(SuggestionStoreTest, PagesCoverTheListOnceInOrder) {
  std::vector<SuggestionWrite> writes;
  for (int i = 0; i < 7; ++i) writes.push_back({Make("p", i), {}});
  // Two more created in the same millisecond as s3: ties order by id.
  for (const char* id : {"s3a", "s3b"}) {
    RetrySuggestion t = Make("p", 3);
    t.set_suggestion_id(id);
    writes.push_back({t, {}});
  }
  ASSERT_TRUE(store_->PutBatch(writes).ok());
  auto all = store_->List(tenant_, "p");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 9u);
  EXPECT_EQ(all->front().suggestion_id(), "s6");  // Newest first.
  std::vector<std::string> listed;
  for (const auto& s : *all) listed.push_back(s.suggestion_id());
  for (int size : {1, 2, 3, 4, 9, 10}) {
    std::vector<std::string> paged;
    std::optional<PageCursor> after;
    for (int pages = 0;; ++pages) {
      ASSERT_LT(pages, 20) << "size " << size;
      auto page = store_->ListAfter(tenant_, "p", after, size);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const auto& s : page->suggestions)
        paged.push_back(s.suggestion_id());
      if (!page->next) break;
      EXPECT_EQ(static_cast<int>(page->suggestions.size()), size);
      after = page->next;
    }
    EXPECT_EQ(paged, listed) << "size " << size;
  }
  // After the oldest: nothing.
  auto beyond = store_->ListAfter(tenant_, "p", PageCursor{0, ""}, 3);
  ASSERT_TRUE(beyond.ok());
  EXPECT_TRUE(beyond->suggestions.empty());
  EXPECT_FALSE(beyond->next);
}

// The two findings with offset tokens: acting on an item of page 1
// under a states filter made a still-READY item vanish from page 2, and
// suggestions arriving between pages made page 2 repeat page 1's items.
TEST_F(SuggestionStoreTest, PagesNeitherSkipNorRepeatAcrossChangesAndInserts) {
  std::vector<SuggestionWrite> writes;
  for (int i = 0; i < 6; ++i) writes.push_back({Make("k", i), {}});
  ASSERT_TRUE(store_->PutBatch(writes).ok());
  auto ready = [](const RetrySuggestion& s) {
    return s.state() == rebound::v1::SUGGESTION_STATE_READY;
  };
  auto p1 = store_->ListAfter(tenant_, "k", std::nullopt, 3, ready);
  ASSERT_TRUE(p1.ok()) << p1.status();
  ASSERT_EQ(p1->suggestions.size(), 3u);  // s5 s4 s3
  ASSERT_TRUE(p1->next);
  // The member acts on s4 (page 1), and two new suggestions arrive.
  RetrySuggestion acted = Make("k", 4, 2);
  acted.set_state(rebound::v1::SUGGESTION_STATE_ACTED);
  ASSERT_TRUE(store_->Put(acted, {}).ok());
  ASSERT_TRUE(
      store_->PutBatch({{Make("k", 10), {}}, {Make("k", 11), {}}}).ok());
  auto p2 = store_->ListAfter(tenant_, "k", p1->next, 3, ready);
  ASSERT_TRUE(p2.ok()) << p2.status();
  std::vector<std::string> ids;
  for (const auto& s : p2->suggestions) ids.push_back(s.suggestion_id());
  EXPECT_EQ(ids, (std::vector<std::string>{"s2", "s1", "s0"}));
  EXPECT_FALSE(p2->next);
}

// Insights count the indexed suggestions by the state of their latest
// version (the stored state field, not the suggestions), and not one whose
// key expired while the index still names it.
TEST_F(SuggestionStoreTest, InsightsCountSuggestionsByTheirLatestState) {
  ASSERT_TRUE(store_->Put(Make("i", 1), {}).ok());
  auto dismissed = Make("i", 1, 2);
  dismissed.set_state(rebound::v1::SUGGESTION_STATE_DISMISSED);
  ASSERT_TRUE(store_->Put(dismissed, {}).ok());
  ASSERT_TRUE(store_->Put(Make("i", 2), {}).ok());
  ASSERT_TRUE(store_->Put(Make("i", 3), {}).ok());
  RedisClient redis(options_.redis);
  ASSERT_TRUE(
      redis.Command({"DEL", state::MemberKeys(tenant_, "i").Suggestion("s3")})
          .ok());
  auto insights = store_->Insights(tenant_, "i", 5);
  ASSERT_TRUE(insights.ok()) << insights.status();
  EXPECT_EQ(insights->suggestions_by_state,
            (std::map<std::string, int64_t>{{"SUGGESTION_STATE_DISMISSED", 1},
                                            {"SUGGESTION_STATE_READY", 1}}));
}

TEST_F(SuggestionStoreTest, ACorruptSuggestionIsNeverServedAndIsCounted) {
  ASSERT_TRUE(store_->Put(Make("c", 1), {}).ok());
  ASSERT_TRUE(store_->Put(Make("c", 2), {}).ok());
  RedisClient redis(options_.redis);
  ASSERT_TRUE(
      redis
          .Command({"HSET", state::MemberKeys(tenant_, "c").Suggestion("s1"),
                    "data", "\xff\xff not a suggestion"})
          .ok());
  bool corrupt = false;
  auto got = store_->Get(tenant_, "c", "s1", &corrupt);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
  EXPECT_TRUE(corrupt);
  auto all = store_->List(tenant_, "c");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().suggestion_id(), "s2");
  auto page = store_->ListAfter(tenant_, "c", std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->suggestions.size(), 1u);
  EXPECT_EQ(options_.corrupt->Value(), 3);  // Get, List, ListAfter.

  // A stream entry that does not decode is marked, so a reader moves past.
  ASSERT_TRUE(redis
                  .Command({"XADD", StreamKey(tenant_, "c"), "*", "s",
                            "\xff\xff not a suggestion"})
                  .ok());
  auto entries = store_->Read(tenant_, "c", "0-0", absl::ZeroDuration(), 100);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_FALSE((*entries)[0].corrupt);
  EXPECT_FALSE((*entries)[1].corrupt);
  EXPECT_TRUE((*entries)[2].corrupt);
}

TEST_F(SuggestionStoreTest, AWrongTypedKeyFailsThePutBeforeAnyWrite) {
  RedisClient redis(options_.redis);
  const state::MemberKeys m(tenant_, "m");
  // The member's flags are a string: a first version that counts a flag
  // cannot write them, and writes nothing else either.
  ASSERT_TRUE(redis.Command({"SET", m.Flags(), "not a hash"}).ok());
  auto first = store_->Put(Make("m", 1), {"no_photo"});
  EXPECT_EQ(first.status().code(), absl::StatusCode::kFailedPrecondition)
      << first.status();
  for (const std::string& key :
       {m.Suggestion("s1"), m.Suggestions(), m.Stream(), m.Retries("r1")}) {
    auto n = redis.Command({"EXISTS", key});
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(n->integer, 0) << key << " written before the error";
  }
  // A first version with no flag, or a later version, does not write the
  // flags, so the string does not hold it up.
  auto no_flags = store_->Put(Make("m", 2), {});
  EXPECT_TRUE(no_flags.ok()) << no_flags.status();
  auto later = store_->Put(Make("m", 2, 2), {"no_photo"});
  EXPECT_TRUE(later.ok()) << later.status();
}

TEST_F(SuggestionStoreTest, EveryMemberKeyHasItsTtlWithoutAnExpireOnEachPut) {
  RedisClient redis(options_.redis);
  const state::MemberKeys m(tenant_, "m");
  auto ttl = [&](const std::string& key) {
    auto v = redis.Command({"TTL", key});
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? v->integer : -3;
  };
  const int64_t full = absl::ToInt64Seconds(options_.suggestion_ttl);
  auto waiting = [&](int i) {
    RetrySuggestion s = Make("m", i);
    s.set_state(rebound::v1::SUGGESTION_STATE_WAITING_ON_PROFILE);
    s.set_should_retry(true);
    return s;
  };
  // A first put creates every key of the member with its TTL.
  ASSERT_TRUE(store_->Put(waiting(1), {"no_photo"}).ok());
  const std::vector<std::string> member_keys = {m.Suggestions(), m.Waiting(),
                                                m.Retries("r1"), m.Flags()};
  for (const std::string& key : member_keys) {
    EXPECT_GT(ttl(key), full - 60) << key;
  }
  EXPECT_GT(ttl(m.Suggestion("s1")), full - 60);
  // Within the hour the same store leaves existing keys' TTLs alone...
  for (const std::string& key : member_keys) {
    ASSERT_TRUE(redis.Command({"EXPIRE", key, "100"}).ok());
  }
  ASSERT_TRUE(store_->Put(waiting(2), {"no_photo"}).ok());
  for (const std::string& key : member_keys) {
    EXPECT_LE(ttl(key), 100) << key << " refreshed on every put";
    EXPECT_GT(ttl(key), 0) << key;
  }
  // ...while what this put created has its own: the suggestion, the new
  // pair's retries.
  EXPECT_GT(ttl(m.Suggestion("s2")), full - 60);
  EXPECT_GT(ttl(m.Retries("r2")), full - 60);
  // A store that has not refreshed this member yet (a restart, another
  // replica) sets them all again (a pair's retries are written, and so
  // refreshed, only with that pair's suggestions).
  SuggestionStore other(options_);
  ASSERT_TRUE(other.Put(waiting(3), {"no_photo"}).ok());
  for (const std::string& key : {m.Suggestions(), m.Waiting(), m.Flags()}) {
    EXPECT_GT(ttl(key), full - 60) << key << " not refreshed";
  }
  EXPECT_LE(ttl(m.Retries("r1")), 100);
  // A put that wrote nothing (a version written before) does not count as
  // the refresh: the store's next put does it.
  for (const std::string& key : {m.Suggestions(), m.Waiting(), m.Flags()}) {
    ASSERT_TRUE(redis.Command({"EXPIRE", key, "100"}).ok());
  }
  SuggestionStore third(options_);
  ASSERT_TRUE(third.Put(waiting(3), {"no_photo"}).ok());
  EXPECT_LE(ttl(m.Suggestions()), 100);
  ASSERT_TRUE(third.Put(waiting(4), {}).ok());
  for (const std::string& key : {m.Suggestions(), m.Waiting(), m.Flags()}) {
    EXPECT_GT(ttl(key), full - 60) << key << " not refreshed";
  }
  // In one batch, a replay first and then a put that writes: refreshed.
  for (const std::string& key : {m.Suggestions(), m.Waiting(), m.Flags()}) {
    ASSERT_TRUE(redis.Command({"EXPIRE", key, "100"}).ok());
  }
  SuggestionStore fourth(options_);
  ASSERT_TRUE(fourth.PutBatch({{waiting(4), {}}, {waiting(5), {}}}).ok());
  for (const std::string& key : {m.Suggestions(), m.Waiting(), m.Flags()}) {
    EXPECT_GT(ttl(key), full - 60) << key << " not refreshed";
  }
}

}  // namespace
}  // namespace rebound::notify

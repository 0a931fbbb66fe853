// ScoreStore and the shared schema's scripts against a real redis-server:
// a script that meets a wrong-typed key fails before its first write (no
// event half applied or marked done), replays change nothing, and what
// scoring's scripts write reads back through the shared reader
// (state/member_state.h) that notify uses too.
#include "services/scoring/score_store.h"

#include <chrono>
#include <cstdio>
#include <thread>

#include "absl/strings/str_split.h"
#include "common/redis_client.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "state/keys.h"
#include "state/member_state.h"
#include "tests/scoring_test_support.h"
#include "tests/test_support.h"

namespace rebound {
namespace {

using rebound::v1::ConnectionEvent;

class ScoreStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    address_ = testing::RequiredEnv("REBOUND_REDIS_ADDR");
    ASSERT_FALSE(address_.empty());
    tenant_ = testing::UniqueTopic("st");
    RedisOptions o;
    o.address = address_;
    redis_ = std::make_unique<RedisClient>(o);
    scoring::ScoreStoreOptions so;
    so.redis = o;
    store_ = std::make_unique<scoring::ScoreStore>(so);
    ASSERT_TRUE(store_->Connect().ok()) << "redis at " << address_;
  }

  RedisValue Run(const std::vector<std::string>& argv) {
    auto v = redis_->Command(argv);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : RedisValue();
  }

  rebound::v1::DeclineVerdict VerdictFor(const ConnectionEvent& e) {
    rebound::v1::DeclineVerdict v;
    v.set_verdict_id(e.event_id());
    v.set_primary_reason(rebound::v1::DECLINE_REASON_OFF_TARGET_APPROACH);
    return v;
  }

  std::string address_, tenant_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<scoring::ScoreStore> store_;
};

TEST_F(ScoreStoreTest, WrongTypedKeyFailsTheSenderScriptBeforeAnyWrite) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(5);
  s.Sent("ann", "bob", "r1", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  const ConnectionEvent& sent = s.events()[0];
  const state::MemberKeys ann(tenant_, "ann");
  // The pair key is the last one the script writes; make it a hash.
  Run({"HSET", ann.Pair("bob"), "not", "a string"});
  EXPECT_FALSE(store_->Apply(sent, nullptr).ok());
  EXPECT_EQ(Run({"EXISTS", ann.Request("r1")}).integer, 0)
      << "request written before the error";
  EXPECT_EQ(Run({"HGET", ann.Sender(), "sent"}).type, RedisValue::Type::kNil)
      << "counter moved before the error";
  // Repaired, the same event applies once, and a replay changes nothing.
  Run({"DEL", ann.Pair("bob")});
  ASSERT_TRUE(store_->Apply(sent, nullptr).ok());
  ASSERT_TRUE(store_->Apply(sent, nullptr).ok());
  auto scores = state::ReadMemberScores(*redis_, tenant_, "ann");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->as_sender().sent(), 1);
  EXPECT_EQ(scores->as_sender().pending(), 1);
}

TEST_F(ScoreStoreTest, WrongTypedKeyFailsTheRecipientScriptBeforeItsMarker) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(5);
  auto rp = testing::NormalProfile();
  rp.set_utc_offset_minutes(0);
  s.Sent("ann", "bob", "r1", t0, testing::NormalProfile(), rp, "hi");
  s.Accepted("ann", "bob", "r1", t0 + absl::Hours(1));
  ASSERT_TRUE(store_->Apply(s.events()[0], nullptr).ok());
  const state::MemberKeys bob(tenant_, "bob");
  Run({"HSET", bob.AcceptHours(), "f", "v"});  // Should be a string.
  EXPECT_FALSE(store_->Apply(s.events()[1], nullptr).ok());
  EXPECT_EQ(Run({"EXISTS", bob.ReceivedMarker("r1", true)}).integer, 0)
      << "marker set though the event was not applied";
  EXPECT_EQ(Run({"HGET", bob.Recipient(), "accepted"}).type,
            RedisValue::Type::kNil);
  Run({"DEL", bob.AcceptHours()});
  ASSERT_TRUE(store_->Apply(s.events()[1], nullptr).ok());
  ASSERT_TRUE(store_->Apply(s.events()[1], nullptr).ok());
  auto scores = state::ReadMemberScores(*redis_, tenant_, "bob");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->as_recipient().received(), 1);
  EXPECT_EQ(scores->as_recipient().accepted(), 1);
  const absl::CivilSecond local =
      absl::ToCivilSecond(t0 + absl::Hours(1), absl::UTCTimeZone());
  const int how = static_cast<int>(absl::GetWeekday(local)) * 24 + local.hour();
  EXPECT_EQ(scores->as_recipient().accept_hour_of_week(how), 1);
}

TEST_F(ScoreStoreTest, WhatScoringWritesReadsBackThroughTheSharedReader) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::FromCivil(absl::CivilSecond(2026, 11, 2, 0, 0, 0),
                                        absl::UTCTimeZone());
  auto rp = testing::NormalProfile();
  rp.set_utc_offset_minutes(-300);
  // Three requests on three days, one accepted, one reported, one expired.
  s.Sent("ann", "bob", "r1", t0, testing::NormalProfile(), rp, "hi");
  s.Sent("ann", "cat", "r2", t0 + absl::Hours(24), testing::NormalProfile(), rp,
         "hi");
  s.Sent("ann", "dan", "r3", t0 + absl::Hours(48), testing::NormalProfile(), rp,
         "hi");
  s.Accepted("ann", "bob", "r1", t0 + absl::Hours(60));
  s.Declined("ann", "cat", "r2", t0 + absl::Hours(61),
             rebound::v1::DECLINE_KIND_REPORTED_SPAM);
  s.Expired("ann", "dan", "r3", t0 + absl::Hours(62));
  std::vector<rebound::v1::DeclineVerdict> verdicts(s.events().size());
  for (size_t i = 0; i < s.events().size(); ++i) {
    const auto& e = s.events()[i];
    const rebound::v1::DeclineVerdict* v = nullptr;
    if (e.has_request_declined() || e.has_request_expired()) {
      auto st = store_->ReadDeclineState(e);
      ASSERT_TRUE(st.ok()) << st.status();
      EXPECT_FALSE(st->stored_verdict.has_value());
      if (e.has_request_expired()) {
        // The 7 days before r3's day (Nov 4): Nov 2 and 3, one each.
        EXPECT_EQ(st->context.sender_sent_last_7d, 2);
        EXPECT_EQ(st->context.sender_sent, 3);
        EXPECT_EQ(st->context.sender_accepted, 1);
        EXPECT_EQ(st->context.sender_declined, 1);
      }
      verdicts[i] = VerdictFor(e);
      // As the classifier makes it: with the request's snapshot.
      *verdicts[i].mutable_request() = st->context.request.value();
      v = &verdicts[i];
    }
    ASSERT_TRUE(store_->Apply(e, v).ok());
  }
  // The verdict is kept without the request snapshot its request hash
  // holds already.
  const std::string r2 = state::MemberKeys(tenant_, "ann").Request("r2");
  EXPECT_TRUE(Run({"HGET", r2, "verdict"}).is_nil());
  RedisValue kept = Run({"HGET", r2, "verdict_nr"});
  rebound::v1::DeclineVerdict stored;
  ASSERT_TRUE(stored.ParseFromString(kept.str));
  EXPECT_EQ(stored.verdict_id(), s.events()[4].event_id());
  EXPECT_FALSE(stored.has_request());
  // A replayed decline reads the verdict it got, its request put back.
  auto again = store_->ReadDeclineState(s.events()[4]);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(again->stored_verdict.has_value());
  EXPECT_EQ(again->stored_verdict->SerializeAsString(),
            verdicts[4].SerializeAsString());
  EXPECT_EQ(again->stored_verdict->request().note(), "hi");
  // And so does a store that reads it from Redis (a restart).
  scoring::ScoreStoreOptions so;
  so.redis.address = address_;
  scoring::ScoreStore fresh(so);
  auto read = fresh.ReadDeclineState(s.events()[4]);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->stored_verdict.has_value());
  EXPECT_EQ(read->stored_verdict->SerializeAsString(),
            verdicts[4].SerializeAsString());

  auto ann = state::ReadMemberScores(*redis_, tenant_, "ann");
  ASSERT_TRUE(ann.ok()) << ann.status();
  const auto& snd = ann->as_sender();
  EXPECT_EQ(snd.sent(), 3);
  EXPECT_EQ(snd.accepted(), 1);
  EXPECT_EQ(snd.declined(), 1);
  EXPECT_EQ(snd.reported(), 1);
  EXPECT_EQ(snd.expired(), 1);
  EXPECT_EQ(snd.pending(), 0);
  EXPECT_EQ(snd.declines_by_reason().at("DECLINE_REASON_OFF_TARGET_APPROACH"),
            2);
  EXPECT_DOUBLE_EQ(snd.acceptance_rate(), 2.0 / 4.0);
  auto bob = state::ReadMemberScores(*redis_, tenant_, "bob");
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(bob->as_recipient().accepted(), 1);
  // Accepted Wednesday 12:00 UTC = 07:00 at UTC-5: hour 2 * 24 + 7.
  EXPECT_EQ(bob->as_recipient().accept_hour_of_week(2 * 24 + 7), 1);
  auto policy = state::ReadPolicyInputs(*redis_, {{tenant_, "ann", "bob"}});
  ASSERT_TRUE(policy.ok());
  EXPECT_EQ((*policy)[0].recipient.utc_offset_minutes, -300);
  EXPECT_EQ((*policy)[0].recipient.accept_hours[2 * 24 + 7], 1);
  EXPECT_FALSE(
      state::ReadMemberScores(*redis_, tenant_, "nobody").status().ok());
}

TEST_F(ScoreStoreTest, AReplayedDeclineGetsItsVerdictAsItWasStored) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::FromCivil(absl::CivilSecond(2026, 11, 2, 0, 0, 0),
                                        absl::UTCTimeZone());
  // Declined before its send arrived: the verdict had no snapshot to carry,
  // and the send that comes later writes one into the request hash.
  s.Declined("ann", "eve", "r9", t0 + absl::Hours(1),
             rebound::v1::DECLINE_KIND_DECLINED);
  s.Sent("ann", "eve", "r9", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  const ConnectionEvent& decline = s.events()[0];
  auto st = store_->ReadDeclineState(decline);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_FALSE(st->context.request.has_value());
  const rebound::v1::DeclineVerdict v = VerdictFor(decline);
  ASSERT_TRUE(store_->Apply(decline, &v).ok());
  ASSERT_TRUE(store_->Apply(s.events()[1], nullptr).ok());
  auto again = store_->ReadDeclineState(decline);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(again->stored_verdict.has_value());
  EXPECT_FALSE(again->stored_verdict->has_request())
      << "the late send's snapshot was put on the verdict";
  EXPECT_EQ(again->stored_verdict->SerializeAsString(), v.SerializeAsString());
}

TEST_F(ScoreStoreTest, PairHistoryAndAViewNamingNoRequest) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(24 * 10);
  s.Sent("ann", "bob", "r1", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  s.Sent("ann", "bob", "r2", t0 + absl::Hours(24 * 5), testing::NormalProfile(),
         testing::NormalProfile(), "hi again");
  for (const auto& e : s.events()) ASSERT_TRUE(store_->Apply(e, nullptr).ok());
  // A view that names no request, after r2 was sent: kept on the pair.
  ConnectionEvent view;
  view.set_event_id("v1");
  view.set_tenant_id(tenant_);
  view.set_sender_id("ann");
  view.set_recipient_id("bob");
  *view.mutable_occurred_at() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(
          absl::ToUnixSeconds(t0 + absl::Hours(24 * 5 + 1)));
  view.mutable_profile_viewed();
  ASSERT_TRUE(store_->Apply(view, nullptr).ok());
  ASSERT_TRUE(store_->Apply(view, nullptr).ok());

  testing::Scenario d(tenant_);
  d.Declined("ann", "bob", "r2", t0 + absl::Hours(24 * 6),
             rebound::v1::DECLINE_KIND_IGNORED);
  auto st = store_->ReadDeclineState(d.events()[0]);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->context.pair_prior_requests, 1);
  EXPECT_EQ(st->context.since_prior_request, absl::Hours(24 * 5));
  EXPECT_TRUE(st->context.viewed);
  // The first request's decline: r1 is not the pair's latest.
  testing::Scenario d1(tenant_);
  d1.Declined("ann", "bob", "r1", t0 + absl::Hours(24 * 6),
              rebound::v1::DECLINE_KIND_IGNORED);
  auto first = store_->ReadDeclineState(d1.events()[0]);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->context.since_prior_request.has_value());
}

// A batch decides each decline at its place: its context (sender, pair and
// recipient, the recipient's counters moved by the batch's own earlier
// events included) is the one it gets when every event is its own round
// trip. Fails if a decline saw the batch's later events, or missed its
// earlier ones (the recipient's counters are read before the batch writes).
TEST_F(ScoreStoreTest, ADeclineSeesExactlyTheStepsBeforeItWhateverTheBatching) {
  struct Seen {
    std::string event_id;
    scoring::DeclineContext context;
  };
  // One stream (its times are relative to now), run under two tenants.
  const auto stream = testing::SimulatedStream(tenant_, 3000, 11);
  // `held`: as the consumer runs them, each batch's writes held and sent
  // behind the next batch's reads (which see Redis before them).
  auto run = [&](const std::string& tenant, size_t per_round_trip,
                 bool held = false) {
    std::vector<Seen> seen;
    auto events = stream;
    for (auto& e : events) e.set_tenant_id(tenant);
    scoring::ScoreStoreOptions so;
    so.redis.address = address_;
    scoring::ScoreStore store(so);
    EXPECT_TRUE(store.Connect().ok());
    const auto classify = [&](const scoring::DeclineContext& c) {
      seen.push_back({c.event.event_id(), c});
      rebound::v1::DeclineVerdict v;
      v.set_verdict_id(c.event.event_id());
      v.set_primary_reason(rebound::v1::DECLINE_REASON_NOT_SEEN);
      return v;
    };
    std::vector<scoring::ScoreStore::Step> steps;
    int sent_behind_reads = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      steps.push_back(scoring::ScoreStore::Step::Of(events[i], std::nullopt));
      if (steps.size() < per_round_trip && i + 1 < events.size()) continue;
      if (held) {
        EXPECT_TRUE(store.FinishWrites().ok());
        sent_behind_reads += store.has_held();
        auto decided = store.PrepareSteps(steps, classify);
        EXPECT_TRUE(decided.ok()) << decided.status();
        EXPECT_TRUE(store.has_held());
      } else {
        auto decided = store.RunSteps(steps, classify);
        EXPECT_TRUE(decided.ok()) << decided.status();
      }
      steps.clear();
    }
    if (held) {
      EXPECT_TRUE(store.FinishWrites().ok());
      EXPECT_TRUE(store.SendHeld().ok());
      EXPECT_TRUE(store.FinishWrites().ok());
      EXPECT_GT(sent_behind_reads, 10);
    }
    return seen;
  };
  const auto batched = run(tenant_ + "-b", 256);
  const auto alone = run(tenant_ + "-a", 1);
  const auto held = run(tenant_ + "-h", 64, /*held=*/true);
  ASSERT_EQ(batched.size(), alone.size());
  ASSERT_EQ(held.size(), alone.size());
  ASSERT_GT(batched.size(), 100u);
  // Each decline's context, run `way`, as when each event ran alone.
  auto expect_as_alone = [&](const std::vector<Seen>& got, const char* way) {
    for (size_t i = 0; i < got.size(); ++i) {
      const auto& g = got[i].context;
      const auto& a = alone[i].context;
      ASSERT_EQ(got[i].event_id, alone[i].event_id);
      const std::string at = std::string(way) + ": decline " + got[i].event_id;
      EXPECT_EQ(g.sender_sent, a.sender_sent) << at;
      EXPECT_EQ(g.sender_accepted, a.sender_accepted) << at;
      EXPECT_EQ(g.sender_declined, a.sender_declined) << at;
      EXPECT_EQ(g.sender_reported, a.sender_reported) << at;
      EXPECT_EQ(g.sender_sent_last_7d, a.sender_sent_last_7d) << at;
      EXPECT_EQ(g.pair_prior_requests, a.pair_prior_requests) << at;
      EXPECT_EQ(g.since_prior_request, a.since_prior_request) << at;
      EXPECT_EQ(g.viewed, a.viewed) << at;
      EXPECT_EQ(g.sent_at, a.sent_at) << at;
      EXPECT_EQ(g.recipient_received, a.recipient_received) << at;
      EXPECT_EQ(g.recipient_accepted, a.recipient_accepted) << at;
      EXPECT_EQ(g.recipient_accept_hours, a.recipient_accept_hours) << at;
      EXPECT_EQ(g.recipient_utc_offset_minutes, a.recipient_utc_offset_minutes)
          << at;
    }
  };
  expect_as_alone(batched, "batched");
  expect_as_alone(held, "held");
  // And what the held run wrote is what the run alone did.
  for (const auto& [member, want] : testing::ExpectedCounters(stream)) {
    auto a = state::ReadMemberScores(*redis_, tenant_ + "-a", member);
    auto h = state::ReadMemberScores(*redis_, tenant_ + "-h", member);
    ASSERT_TRUE(a.ok() && h.ok()) << member;
    a->clear_tenant_id();
    h->clear_tenant_id();
    EXPECT_EQ(h->ShortDebugString(), a->ShortDebugString()) << member;
  }
  int64_t received_in_batch = 0;
  for (const auto& b : batched)
    received_in_batch += b.context.recipient_received;
  EXPECT_GT(received_in_batch, 0);
}

TEST_F(ScoreStoreTest, WritesInFlightAreKnownOnlyAtFinishAndBlockOtherCalls) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(5);
  s.Sent("ann", "bob", "r1", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  s.Sent("ann", "cy", "r2", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  std::vector<scoring::ScoreStore::Step> steps;
  for (const auto& e : s.events()) steps.push_back({&e, nullptr});
  ASSERT_TRUE(store_->StartSteps(steps, nullptr).ok());
  EXPECT_TRUE(store_->writes_in_flight());
  // Another call would read the transaction's replies as its own.
  auto other = store_->GetMemberScores(tenant_, "ann");
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInternal)
      << other.status();
  EXPECT_EQ(store_->StartSteps(steps, nullptr).status().code(),
            absl::StatusCode::kInternal);
  ASSERT_TRUE(store_->FinishWrites().ok());
  EXPECT_FALSE(store_->writes_in_flight());
  EXPECT_TRUE(store_->FinishWrites().ok()) << "none in flight is OK";
  auto scores = store_->GetMemberScores(tenant_, "ann");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->as_sender().sent(), 2);
}

// The partition fence: a store whose partition another store claimed since
// (a consumer evicted while stalled, its writes decided and held) writes
// nothing, whether its writes were held before the claim or decided after;
// the newer owner's writes go, and claiming again turns the tables.
TEST_F(ScoreStoreTest, AStoreWhosePartitionWasClaimedSinceWritesNothing) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(5);
  s.Sent("ann", "bob", "r1", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  s.Sent("ann", "cy", "r2", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  s.Sent("ann", "dee", "r3", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  const auto& ev = s.events();
  const std::string field = state::FenceField(tenant_, "events", 0);
  scoring::ScoreStoreOptions so;
  so.redis.address = address_;
  scoring::ScoreStore& a = *store_;
  scoring::ScoreStore b(so);
  const int64_t before_ms = absl::ToUnixMillis(absl::Now());
  ASSERT_TRUE(a.Claim({field}).ok());
  ASSERT_EQ(a.claimed().count(field), 1u);
  EXPECT_GE(a.claimed().at(field), before_ms)
      << "a generation is never below the clock";
  // A decides r1's writes and holds them (it stalls here)...
  ASSERT_TRUE(a.PrepareSteps({{&ev[0], nullptr}}, nullptr).ok());
  ASSERT_TRUE(a.has_held());
  // ...the partition's next owner claims it and applies r1.
  ASSERT_TRUE(b.Claim({field}).ok());
  EXPECT_GT(b.claimed().at(field), a.claimed().at(field));
  ASSERT_TRUE(b.RunSteps({{&ev[0], nullptr}}, nullptr).ok());
  // A resumes: its held writes are refused whole, and so is a new batch.
  ASSERT_TRUE(a.SendHeld().ok());
  absl::Status held = a.FinishWrites();
  EXPECT_TRUE(scoring::IsFenced(held)) << held;
  auto later = a.RunSteps({{&ev[1], nullptr}}, nullptr);
  EXPECT_TRUE(scoring::IsFenced(later.status())) << later.status();
  EXPECT_EQ(
      Run({"EXISTS", state::MemberKeys(tenant_, "ann").Request("r2")}).integer,
      0)
      << "a fenced batch wrote its request";
  auto scores = b.GetMemberScores(tenant_, "ann");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->as_sender().sent(), 1);
  // Claiming again makes A the newest owner: its writes go, B's do not.
  a.ForgetCached();
  ASSERT_TRUE(a.Claim({field}).ok());
  ASSERT_TRUE(a.RunSteps({{&ev[1], nullptr}}, nullptr).ok());
  auto refused = b.RunSteps({{&ev[2], nullptr}}, nullptr);
  EXPECT_TRUE(scoring::IsFenced(refused.status())) << refused.status();
  // A partition given up no longer guards the store's writes.
  b.Release({field});
  EXPECT_TRUE(b.claimed().empty());
  b.ForgetCached();
  ASSERT_TRUE(b.RunSteps({{&ev[2], nullptr}}, nullptr).ok());
  scores = a.GetMemberScores(tenant_, "ann");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->as_sender().sent(), 3);
  Run({"HDEL", state::FenceKey(), field});
}

TEST_F(ScoreStoreTest, WritesInFlightLostWithTheConnectionAreRunAgainOnce) {
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(5);
  s.Sent("ann", "bob", "r1", t0, testing::NormalProfile(),
         testing::NormalProfile(), "hi");
  std::vector<scoring::ScoreStore::Step> steps = {{&s.events()[0], nullptr}};
  // Redis holds the transaction (CLIENT PAUSE WRITE) and the store's
  // connection is cut before it runs: FinishWrites cannot know the writes
  // landed, and says so with a transient error.
  const int64_t own = Run({"CLIENT", "ID"}).integer;
  Run({"CLIENT", "PAUSE", "10000", "WRITE"});
  ASSERT_TRUE(store_->StartSteps(steps, nullptr).ok());
  for (const auto& line : absl::StrSplit(Run({"CLIENT", "LIST"}).str, '\n')) {
    int64_t id = 0;
    const std::string text(line);
    if (sscanf(text.c_str(), "id=%ld", &id) == 1 && id != own) {
      (void)redis_->Command({"CLIENT", "KILL", "ID", std::to_string(id)});
    }
  }
  Run({"CLIENT", "UNPAUSE"});
  absl::Status finished = store_->FinishWrites();
  EXPECT_TRUE(IsTransientRedisError(finished)) << finished;
  // Run again (the consumer does, waiting), it counts once.
  ASSERT_TRUE(store_->RunSteps(steps, nullptr).ok());
  auto scores = store_->GetMemberScores(tenant_, "ann");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->as_sender().sent(), 1);
  EXPECT_EQ(
      Run({"HGET", state::MemberKeys(tenant_, "bob").Recipient(), "received"})
          .str,
      "1");
}

TEST_F(ScoreStoreTest, WritesAreAnsweredOnlyWhenEveryReplyIsIn) {
  testing::Scenario s(tenant_);
  s.Sent("ann", "bob", "r1", absl::Now() - absl::Hours(5),
         testing::NormalProfile(), testing::NormalProfile(), "hi");
  std::vector<scoring::ScoreStore::Step> steps = {{&s.events()[0], nullptr}};
  // Redis queues the transaction's commands (answering MULTI and each
  // QUEUED at once) and holds its EXEC while writes are paused.
  Run({"CLIENT", "PAUSE", "10000", "WRITE"});
  ASSERT_TRUE(store_->StartSteps(steps, nullptr).ok());
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(store_->writes_answered()) << "answered before its EXEC ran";
  }
  Run({"CLIENT", "UNPAUSE"});
  bool answered = false;
  for (int i = 0; i < 500 && !answered; ++i) {
    answered = store_->writes_answered();
    if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(answered);
  ASSERT_TRUE(store_->FinishWrites().ok());
  auto scores = store_->GetMemberScores(tenant_, "ann");
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_EQ(scores->as_sender().sent(), 1);
}

// TransactStart encodes a standalone transaction itself (one RESP buffer);
// Transact builds it command by command. Both must send the same commands
// and answer the same: binary-safe values, scripts, empty groups, reads
// with or without writes, nothing at all, and an error inside EXEC.
TEST_F(ScoreStoreTest, TransactionsInFlightAnswerAsTransactDoes) {
  const std::string binary("a\r\n$3\r\n*1\r\n\0z", 14);
  auto run = [&](bool in_flight,
                 const std::vector<std::vector<RedisStep>>& groups,
                 const std::vector<std::vector<std::string>>& reads)
      -> absl::StatusOr<std::vector<RedisValue>> {
    RedisOptions o;
    o.address = address_;
    RedisClient c(o);
    c.AddScript("add",
                "redis.call('INCRBY', KEYS[1], ARGV[1])\n"
                "return redis.call('GET', KEYS[1])");
    if (!in_flight) return c.Transact(groups, reads);
    if (auto s = c.TransactStart(groups, reads); !s.ok()) return s;
    return c.TransactFinish();
  };
  for (bool in_flight : {false, true}) {
    SCOPED_TRACE(in_flight ? "TransactStart/Finish" : "Transact");
    const std::string p = tenant_ + (in_flight ? ":a:" : ":b:");
    std::vector<std::vector<RedisStep>> groups = {
        {std::vector<std::string>{"SET", p + "k1", binary},
         std::vector<std::string>{"HSET", p + "h", "f", binary}},
        {},
        {ScriptCall{"add", {p + "k2"}, {"5"}},
         ScriptCall{"add", {p + "k2"}, {"2"}}}};
    auto out =
        run(in_flight, groups,
            {{"GET", p + "k1"}, {"HGETALL", p + "h"}, {"GET", p + "k2"}});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 3u);  // The reads' replies only.
    EXPECT_EQ((*out)[0].str, binary);
    ASSERT_EQ((*out)[1].array.size(), 2u);
    EXPECT_EQ((*out)[1].array[1].str, binary);
    EXPECT_EQ((*out)[2].str, "7");

    // Reads alone, and nothing at all.
    out = run(in_flight, {}, {{"GET", p + "k2"}});
    ASSERT_TRUE(out.ok()) << out.status();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].str, "7");
    out = run(in_flight, {{}, {}}, {});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_TRUE(out->empty());

    // A command Redis refuses inside EXEC: the call fails with Redis's
    // error; the commands around it ran (Redis does not undo them).
    out = run(in_flight,
              {{std::vector<std::string>{"HSET", p + "k1", "f", "v"},
                std::vector<std::string>{"SET", p + "k3", "after"}}},
              {{"GET", p + "k3"}});
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(out.status().message().find("WRONGTYPE"), std::string::npos)
        << out.status();
    EXPECT_EQ(Run({"GET", p + "k3"}).str, "after");
  }
}

}  // namespace
}  // namespace rebound

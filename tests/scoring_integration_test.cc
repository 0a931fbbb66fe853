// Scoring against the real Kafka broker and redis-server: flows give the
// expected verdicts and counters, replays and crashes change nothing, two
// instances end where one does, bad records go to the dead-letter topic, and
// a Redis outage loses nothing.
#include <functional>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_server.h"
#include "common/kafka_admin.h"
#include "common/kafka_publisher.h"
#include "common/pipeline.h"
#include "common/redis_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/ingest/ingest_server.h"
#include "services/scoring/offline_state.h"
#include "services/scoring/scoring_server.h"
#include "services/scoring/state_rebuild.h"
#include "state/keys.h"
#include "state/member_state.h"
#include "tests/scoring_test_support.h"
#include "tests/test_support.h"
#include "tools/ingest_client.h"
#include "tools/topic_reader.h"

namespace rebound {
namespace {

using rebound::v1::ConnectionEvent;
using rebound::v1::DeclineReason;
using std::chrono::seconds;

class ScoringIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    brokers_ = testing::RequiredEnv("REBOUND_KAFKA_BROKERS");
    redis_ = testing::RequiredEnv("REBOUND_REDIS_ADDR");
    ASSERT_FALSE(brokers_.empty() || redis_.empty());
    topic_ = testing::UniqueTopic("it-scoring");
    tenant_ = testing::UniqueTopic("t");
    auto cfg = scoring::LoadClassifierConfig(std::string(REBOUND_SOURCE_DIR) +
                                             "/config/classifier.json");
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    classifier_ = *cfg;
  }

  scoring::ScoringServerOptions ScoringOptions(const std::string& group) {
    scoring::ScoringServerOptions o;
    o.listen = "127.0.0.1:0";
    o.scoring.brokers = brokers_;
    o.scoring.group_id = group;
    o.scoring.events_topic = topic_;
    o.scoring.verdicts_topic = topic_ + "-verdicts";
    o.scoring.dead_letter_topic = topic_ + "-dlq";
    o.scoring.topic_partitions = partitions_;
    o.scoring.redis_retry = std::chrono::milliseconds(200);
    o.scoring.store.redis.address = redis_;
    auto policy = notify::LoadRetryPolicyConfig(
        std::string(REBOUND_SOURCE_DIR) + "/config/retry_policy.json");
    EXPECT_TRUE(policy.ok()) << policy.status();
    if (policy.ok()) o.retry_policy = *policy;
    return o;
  }

  std::unique_ptr<scoring::ScoringServer> StartScoring(
      const std::string& group) {
    auto s =
        scoring::ScoringServer::Start(ScoringOptions(group), classifier_,
                                      std::make_shared<prometheus::Registry>());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }
  // Scoring whose members-at-risk gauge only the test's own refreshes
  // sweep, so what the consumer wrote is seen before a sweep re-judges it.
  std::unique_ptr<scoring::ScoringServer> StartAtRiskScoring(
      std::shared_ptr<prometheus::Registry> registry) {
    auto options = ScoringOptions(topic_);
    options.at_risk_refresh = absl::Hours(1);
    auto s = scoring::ScoringServer::Start(options, classifier_, registry);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // True once Redis (redis_) holds `events`' counters; else says what
  // differs.
  ::testing::AssertionResult CountersReach(
      const std::vector<ConnectionEvent>& events,
      std::chrono::seconds timeout) {
    testing::ScoresReader reader(redis_);
    if (reader.WaitForCounters(tenant_, testing::ExpectedCounters(events),
                               timeout)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << reader.last_mismatch();
  }

  void Publish(const std::vector<ConnectionEvent>& events) {
    if (!ingest_) {
      ingest::IngestServerOptions o;
      o.listen = "127.0.0.1:0";
      o.publisher.brokers = brokers_;
      o.service.topic = topic_;
      o.topic_partitions = partitions_;
      auto s = ingest::IngestServer::Start(
          o, std::make_shared<prometheus::Registry>());
      ASSERT_TRUE(s.ok()) << s.status();
      ingest_ = std::move(*s);
      channel_ =
          grpc::CreateChannel(absl::StrCat("127.0.0.1:", ingest_->port()),
                              grpc::InsecureChannelCredentials());
      stub_ = rebound::v1::Ingest::NewStub(channel_);
    }
    auto r = tools::PublishOverStream(channel_, events);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    ASSERT_EQ(r.published + r.duplicates, events.size());
  }

  // The dead-letter topic's records, once there is at least one (or 20 s).
  void ReadDeadLetters(std::vector<tools::KafkaRecord>* dlq) {
    for (int i = 0; i < 100 && dlq->empty(); ++i) {
      auto r = tools::ReadTopic(brokers_, topic_ + "-dlq", seconds(30));
      ASSERT_TRUE(r.ok()) << r.status();
      *dlq = *r;
      if (dlq->empty())
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  std::string brokers_, redis_, topic_, tenant_;
  int partitions_ = 4;
  scoring::ClassifierConfig classifier_;
  std::unique_ptr<ingest::IngestServer> ingest_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<rebound::v1::Ingest::Stub> stub_;
};

TEST_F(ScoringIntegration, RequestViewDeclineGivesVerdictAndCounters) {
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  testing::Scenario s(tenant_);
  absl::Time t0 = absl::Now() - absl::Hours(48);
  // A spammy-looking sender: no photo, few connections, thin profile,
  // reported before; the recipient looks them up and reports spam.
  s.Sent("spam-s", "rcp-1", "r1", t0, testing::SpammyProfile(),
         testing::NormalProfile(),
         "Buy now! Limited offer on our platform, quick call?");
  s.Viewed("spam-s", "rcp-1", "r1", t0 + absl::Hours(1));
  s.Declined("spam-s", "rcp-1", "r1", t0 + absl::Hours(2),
             rebound::v1::DECLINE_KIND_REPORTED_SPAM);
  // Expired without a view: not seen.
  s.Sent("quiet-s", "rcp-2", "r2", t0, testing::NormalProfile(),
         testing::NormalProfile(), "");
  s.Expired("quiet-s", "rcp-2", "r2", t0 + absl::Hours(40));
  // Accepted at a known local hour of the recipient (UTC+1).
  absl::Time monday_9_utc =
      absl::FromCivil(absl::CivilHour(2026, 11, 16, 9), absl::UTCTimeZone());
  auto rp = testing::NormalProfile();
  rp.set_utc_offset_minutes(60);
  s.Sent("good-s", "rcp-3", "r3", monday_9_utc - absl::Hours(2),
         testing::NormalProfile(), rp,
         "Loved your post on pricing - happy to share our notes.");
  s.Accepted("good-s", "rcp-3", "r3", monday_9_utc);
  // Out of order: a decline that arrives before its request.
  s.Declined("late-s", "rcp-4", "r4", t0 + absl::Hours(3),
             rebound::v1::DECLINE_KIND_IGNORED);
  s.Sent("late-s", "rcp-4", "r4", t0, testing::NormalProfile(),
         testing::NormalProfile(), "");
  // Still open: the only one left on the tenant's open invites.
  s.Sent("open-s", "rcp-5", "r5", t0, testing::NormalProfile(),
         testing::NormalProfile(), "");
  // A profile update: applied, then forwarded to notify on the verdicts
  // topic, behind the sender's verdicts.
  std::vector<rebound::v1::ConnectionEvent> events = s.events();
  rebound::v1::ConnectionEvent update;
  update.set_event_id("profile-1");
  update.set_tenant_id(tenant_);
  update.set_sender_id("spam-s");
  update.mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(t0 + absl::Hours(5)));
  *update.mutable_profile_updated()->mutable_profile() =
      testing::NormalProfile();
  events.push_back(update);
  Publish(events);

  testing::ScoresReader reader(redis_);
  ASSERT_TRUE(reader.WaitFor(
      tenant_, "late-s",
      [](const auto& m) {
        return m.as_sender().sent() == 1 && m.as_sender().declined() == 1;
      },
      seconds(60)))
      << "scoring did not process the events";
  ASSERT_TRUE(reader.WaitFor(
      tenant_, "rcp-3",
      [](const auto& m) { return m.as_recipient().accepted() == 1; },
      seconds(30)));
  ASSERT_TRUE(reader.WaitFor(
      tenant_, "quiet-s",
      [](const auto& m) { return m.as_sender().expired() == 1; }, seconds(30)));

  auto spam = reader.Get(tenant_, "spam-s");
  ASSERT_TRUE(spam.ok()) << spam.status();
  EXPECT_EQ(spam->as_sender().sent(), 1);
  EXPECT_EQ(spam->as_sender().declined(), 1);
  EXPECT_EQ(spam->as_sender().reported(), 1);
  EXPECT_EQ(spam->as_sender().pending(), 0);
  EXPECT_EQ(spam->as_sender().declines_by_reason().at(
                "DECLINE_REASON_SPAMMY_PROFILE"),
            1);
  EXPECT_GT(spam->as_sender().spam_risk(), 0.3);
  EXPECT_LT(spam->as_sender().reputation(), 50);

  auto good = reader.Get(tenant_, "rcp-3");
  ASSERT_TRUE(good.ok());
  // Monday 09:00 UTC is Monday 10:00 at UTC+1: index 0 * 24 + 10.
  EXPECT_EQ(good->as_recipient().accept_hour_of_week(10), 1);
  EXPECT_EQ(good->as_recipient().received(), 1);

  auto late = reader.Get(tenant_, "late-s");
  EXPECT_EQ(late->as_sender().pending(), 0)
      << "a request decided before it arrived is not pending";

  // Verdicts on the topic: one per decline/expiry, with evidence; and the
  // profile update, forwarded after the sender's verdict.
  std::map<std::string, rebound::v1::DeclineVerdict> verdicts;
  std::vector<rebound::v1::ConnectionEvent> forwarded;
  for (int i = 0; i < 100 && (verdicts.size() < 3 || forwarded.empty()); ++i) {
    auto recs = tools::ReadTopic(brokers_, topic_ + "-verdicts", seconds(30));
    ASSERT_TRUE(recs.ok()) << recs.status();
    verdicts.clear();
    forwarded.clear();
    for (const auto& r : *recs) {
      if (r.Header("ce_type") == pipeline::kEventType) {
        rebound::v1::ConnectionEvent e;
        ASSERT_TRUE(e.ParseFromString(r.value));
        EXPECT_EQ(r.key, absl::StrCat(e.tenant_id(), "/", e.sender_id()));
        EXPECT_EQ(verdicts.count(e.sender_id()), 1u)
            << "forwarded before the sender's verdict";
        forwarded.push_back(e);
        continue;
      }
      rebound::v1::DeclineVerdict v;
      ASSERT_TRUE(v.ParseFromString(r.value));
      EXPECT_EQ(r.Header("ce_type"), "rebound.v1.DeclineVerdict");
      EXPECT_EQ(r.key, absl::StrCat(v.tenant_id(), "/", v.sender_id()));
      verdicts[v.sender_id()] = v;
    }
    if (verdicts.size() < 3 || forwarded.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(verdicts.size(), 3u);
  ASSERT_EQ(forwarded.size(), 1u) << "only profile updates are forwarded";
  EXPECT_EQ(forwarded[0].event_id(), "profile-1");
  EXPECT_TRUE(forwarded[0].has_profile_updated());

  // The tenant's open invites (notify's stale-invite sweep reads them):
  // the request without an outcome, by its send time; the declined,
  // expired and accepted ones left with their outcome, and the one decided
  // before it arrived never joined.
  {
    RedisClient redis(RedisOptions{redis_});
    ASSERT_TRUE(reader.WaitFor(
        tenant_, "open-s",
        [](const auto& m) { return m.as_sender().pending() == 1; },
        seconds(30)));
    auto pending =
        redis.Command({"ZRANGE", state::TenantKeys(tenant_).Pending(), "0",
                       "-1", "WITHSCORES"});
    ASSERT_TRUE(pending.ok()) << pending.status();
    std::map<std::string, std::string> got;
    for (size_t i = 0; i + 1 < pending->array.size(); i += 2)
      got[pending->array[i].str] = pending->array[i + 1].str;
    EXPECT_EQ(got, (std::map<std::string, std::string>{
                       {state::PendingEntry("open-s", "rcp-5", "r5"),
                        std::to_string(absl::ToUnixSeconds(t0))}}));
    auto tenants = redis.Command({"SISMEMBER", state::TenantsKey(), tenant_});
    ASSERT_TRUE(tenants.ok()) << tenants.status();
    EXPECT_EQ(tenants->integer, 1);
    // The tenant's clock: its latest event time, as a lag behind wall time
    // (the sweep's "now" for this tenant is wall time + lag).
    int64_t latest = 0;
    for (const auto& e : events)
      latest = std::max(latest, e.occurred_at().seconds());
    auto clock = redis.Command(state::ReadTenantClock(tenant_));
    ASSERT_TRUE(clock.ok()) << clock.status();
    ASSERT_FALSE(clock->is_nil()) << "no clock for the tenant";
    const absl::Time tenant_now = absl::Now() + state::TenantClockLag(*clock);
    EXPECT_LE(tenant_now, absl::FromUnixSeconds(latest) + absl::Seconds(61));
    EXPECT_GE(tenant_now, absl::FromUnixSeconds(latest) - absl::Seconds(2));
  }
  const auto& sv = verdicts["spam-s"];
  EXPECT_EQ(sv.primary_reason(), rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  // What scoring knew of the members, for notify's advice: the recipient's
  // utc offset from the request's snapshot; no acceptances, no hours.
  ASSERT_TRUE(sv.has_context());
  ASSERT_TRUE(sv.context().has_recipient_utc_offset_minutes());
  EXPECT_EQ(sv.context().recipient_utc_offset_minutes(),
            sv.request().recipient_profile().utc_offset_minutes());
  EXPECT_EQ(sv.context().recipient_accept_hour_of_week_size(), 0);
  // Its profile update comes after the decline: not seen when deciding.
  EXPECT_FALSE(sv.context().has_sender_profile());
  EXPECT_TRUE(sv.viewed_before_decision());
  EXPECT_FALSE(sv.signals().empty());
  EXPECT_EQ(sv.scores_size(), 6);
  double sum = 0;
  for (const auto& sc : sv.scores()) sum += sc.probability();
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_EQ(verdicts["quiet-s"].primary_reason(),
            rebound::v1::DECLINE_REASON_NOT_SEEN);
  EXPECT_TRUE(verdicts["quiet-s"].expired());
}

// Every key of the tenant and its value (DUMP), to show a call wrote
// nothing.
std::map<std::string, std::string> TenantKeysAndValues(
    const std::string& redis_address, const std::string& tenant) {
  RedisClient redis(RedisOptions{redis_address});
  std::map<std::string, std::string> out;
  std::string cursor = "0";
  // The tenant's keys all start "rb:{<escaped tenant>" (state/keys.h); test
  // tenants need no escaping.
  do {
    auto r = redis.Command(
        {"SCAN", cursor, "MATCH", "rb:{" + tenant + "[/}]*", "COUNT", "1000"});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->array.size() != 2) return out;
    cursor = r->array[0].str;
    for (const auto& k : r->array[1].array) {
      auto v = redis.Command({"DUMP", k.str});
      EXPECT_TRUE(v.ok()) << v.status();
      if (v.ok()) out[k.str] = v->str;
    }
  } while (cursor != "0");
  return out;
}

TEST_F(ScoringIntegration, AssessDraftReadsTheMembersStateAndWritesNothing) {
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  testing::Scenario s(tenant_);
  const absl::Time now = absl::Now();
  // ann: 6 invitations this week (one to bob, 2 days ago, still open), 3
  // accepted, 1 declined; bob accepts on Wednesdays at 10:00 his time.
  // Seven weeks ago ann was reported as spam: out of the recent window.
  auto bob_profile = testing::NormalProfile();
  bob_profile.set_utc_offset_minutes(-300);
  s.Sent("ann", "bob", "q-bob", now - absl::Hours(48), testing::NormalProfile(),
         bob_profile, "");
  for (int i = 0; i < 5; ++i) {
    const std::string r = absl::StrCat("r", i), q = absl::StrCat("q", i);
    s.Sent("ann", r, q, now - absl::Hours(24 * 3 + i), testing::NormalProfile(),
           testing::NormalProfile(), "");
    if (i < 3) s.Accepted("ann", r, q, now - absl::Hours(24 * 2 + i));
    if (i == 3) {
      s.Declined("ann", r, q, now - absl::Hours(24 * 2),
                 rebound::v1::DECLINE_KIND_DECLINED);
    }
  }
  s.Sent("ann", "old", "q-old", now - absl::Hours(24 * 50),
         testing::NormalProfile(), testing::NormalProfile(), "");
  s.Declined("ann", "old", "q-old", now - absl::Hours(24 * 49),
             rebound::v1::DECLINE_KIND_REPORTED_SPAM);
  // Wednesday 2026-11-18 10:00 at UTC-5 = 15:00 UTC.
  const absl::Time wednesday_10_local =
      absl::FromCivil(absl::CivilHour(2026, 11, 18, 15), absl::UTCTimeZone());
  for (int i = 0; i < 4; ++i) {
    const std::string q = absl::StrCat("in", i);
    s.Sent(absl::StrCat("fan", i), "bob", q,
           wednesday_10_local - absl::Hours(24 * 7 * i + 1),
           testing::NormalProfile(), bob_profile, "");
    s.Accepted(absl::StrCat("fan", i), "bob", q,
               wednesday_10_local - absl::Hours(24 * 7 * i));
  }
  std::vector<ConnectionEvent> events = s.events();
  // ann's latest profile, which a draft without one is judged by.
  ConnectionEvent update;
  update.set_event_id("ann-profile");
  update.set_tenant_id(tenant_);
  update.set_sender_id("ann");
  update.mutable_occurred_at()->set_seconds(
      absl::ToUnixSeconds(now - absl::Hours(1)));
  *update.mutable_profile_updated()->mutable_profile() =
      testing::NormalProfile();
  events.push_back(update);
  Publish(events);
  ASSERT_TRUE(CountersReach(s.events(), seconds(60)));
  {
    RedisClient redis(RedisOptions{redis_});
    bool has_profile = false;
    for (int i = 0; i < 200 && !has_profile; ++i) {
      auto r = redis.Command(
          {"HEXISTS", state::MemberKeys(tenant_, "ann").Sender(), "profile"});
      has_profile = r.ok() && r->integer == 1;
      if (!has_profile) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    ASSERT_TRUE(has_profile) << "ann's ProfileUpdated never reached Redis";
  }

  auto stub = rebound::v1::Scoring::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", scoring->port()),
                          grpc::InsecureChannelCredentials()));
  auto assess = [&](const rebound::v1::AssessDraftRequest& req,
                    rebound::v1::Assessment* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    return stub->AssessDraft(&ctx, req, out);
  };
  rebound::v1::AssessDraftRequest req;
  req.set_tenant_id(tenant_);
  req.set_sender_id("ann");
  req.set_recipient_id("bob");
  *req.mutable_request()->mutable_recipient_profile() = bob_profile;
  req.mutable_request()->set_note(
      "Hi Bob, quick call about our platform? We offer a free trial.");
  // No sender profile: the one Redis holds is used.

  const auto before = TenantKeysAndValues(redis_, tenant_);
  ASSERT_FALSE(before.empty());
  rebound::v1::Assessment a;
  grpc::Status st = assess(req, &a);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(TenantKeysAndValues(redis_, tenant_), before)
      << "AssessDraft wrote to Redis";

  // What Redis holds of ann: sent 6 in the rolling week, 2 pending
  // (bob's and r4's), 3 accepted of 4 answered recently (the old spam
  // report has aged out).
  const auto& safety = a.account_safety();
  EXPECT_EQ(safety.sent_last_7_days(), 6);
  EXPECT_EQ(safety.remaining_weekly_budget(), 94);
  EXPECT_EQ(safety.pending(), 2);
  EXPECT_EQ(safety.answered(), 4);
  EXPECT_EQ(safety.recent_answers().accepted(), 3);
  EXPECT_EQ(safety.recent_answers().declined(), 1);
  EXPECT_EQ(safety.recent_answers().spam(), 0);
  EXPECT_EQ(safety.recent_answers().window_weeks(), 4);
  EXPECT_DOUBLE_EQ(safety.report_rate(), 0);
  EXPECT_DOUBLE_EQ(safety.decline_rate(), 1.0 / 14);
  EXPECT_FALSE(safety.at_risk());
  EXPECT_GT(a.acceptance_probability(), 0);
  EXPECT_LT(a.acceptance_probability(), 1);
  EXPECT_EQ(a.likely_reasons_size(), 4);
  auto fix =
      [&](rebound::v1::ActionKind k) -> const rebound::v1::SuggestedAction* {
    for (const auto& f : a.fixes()) {
      if (f.kind() == k) return &f;
    }
    return nullptr;
  };
  // bob was invited 2 days ago: wait for the cool-down.
  const auto* wait = fix(rebound::v1::ACTION_KIND_WAIT_COOL_DOWN);
  ASSERT_NE(wait, nullptr);
  EXPECT_NEAR(static_cast<double>(wait->at().seconds()),
              absl::ToUnixSeconds(now - absl::Hours(48) + absl::Hours(24 * 21)),
              1);
  const auto* pitch = fix(rebound::v1::ACTION_KIND_DROP_PITCH);
  ASSERT_NE(pitch, nullptr);
  EXPECT_THAT(
      pitch->phrases(),
      ::testing::IsSupersetOf({"quick call", "our platform", "free trial"}));
  // Then at bob's best hour: Wednesday 10:00 his time.
  EXPECT_TRUE(a.best_hour_from_history());
  EXPECT_EQ(a.best_local_hour_of_week(), 2 * 24 + 10);
  EXPECT_GE(a.best_send_at().seconds(), wait->at().seconds());
  EXPECT_EQ(absl::ToCivilHour(absl::FromUnixSeconds(a.best_send_at().seconds()),
                              absl::FixedTimeZone(-300 * 60))
                .hour(),
            10);

  // Bad drafts: the field and why, as a google.rpc.BadRequest too.
  struct Bad {
    std::function<void(rebound::v1::AssessDraftRequest&)> change;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {[](auto& r) { r.set_sender_id(""); }, "sender_id"},
      {[](auto& r) { r.set_recipient_id("ann"); }, "recipient_id"},
      {[](auto& r) { r.clear_request(); }, "request"},
      {[](auto& r) { r.mutable_request()->clear_recipient_profile(); },
       "request.recipient_profile"},
      {[](auto& r) { r.mutable_request()->set_note(std::string(301, 'x')); },
       "request.note"},
      {[](auto& r) {
         r.mutable_request()->mutable_recipient_profile()->set_completeness(2);
       },
       "request.recipient_profile.completeness"},
      {[](auto& r) {
         r.mutable_planned_send_at()->set_seconds(
             absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 100)));
       },
       "planned_send_at"},
      // Nobody Rebound knows, without a profile to judge them by.
      {[](auto& r) { r.set_sender_id("stranger"); }, "request.sender_profile"},
  };
  for (const auto& b : bad) {
    rebound::v1::AssessDraftRequest r = req;
    b.change(r);
    rebound::v1::Assessment out;
    grpc::Status e = assess(r, &out);
    EXPECT_EQ(e.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << b.field << ": " << e.error_message();
    auto violations = BadRequestViolations(e.error_details());
    ASSERT_EQ(violations.size(), 1u) << b.field << ": " << e.error_message();
    EXPECT_EQ(violations[0].first, b.field) << e.error_message();
  }
  // A stranger with a profile is judged on it and on base rates: a
  // fake-looking profile scores lower than a normal one, all else equal.
  rebound::v1::AssessDraftRequest stranger = req;
  stranger.set_sender_id("stranger");
  *stranger.mutable_request()->mutable_sender_profile() =
      testing::NormalProfile();
  rebound::v1::Assessment normal;
  ASSERT_TRUE(assess(stranger, &normal).ok());
  *stranger.mutable_request()->mutable_sender_profile() =
      testing::SpammyProfile();
  rebound::v1::Assessment spammy;
  ASSERT_TRUE(assess(stranger, &spammy).ok());
  EXPECT_EQ(spammy.account_safety().sent_last_7_days(), 0);
  EXPECT_LT(spammy.acceptance_probability(), normal.acceptance_probability());
  EXPECT_EQ(spammy.likely_reasons(0).reason(),
            rebound::v1::DECLINE_REASON_SPAMMY_PROFILE);
  EXPECT_EQ(TenantKeysAndValues(redis_, tenant_), before);
}

// A member whose sender hash predates the answer ring (written by a version
// without it: counters, no weekly record) is judged on all its answers, as
// before the ring, not as a member with a clean recent record; its first
// answer after the upgrade keeps them beside the ring ("ar0").
TEST_F(ScoringIntegration, AnswersFromBeforeTheAnswerRingStillCount) {
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  RedisClient redis(RedisOptions{redis_});
  const std::string key = state::MemberKeys(tenant_, "legacy").Sender();
  ASSERT_TRUE(redis
                  .Command({"HSET", key, "sent", "20", "accepted", "6",
                            "declined", "10", "reported", "6"})
                  .ok());
  auto stub = rebound::v1::Scoring::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", scoring->port()),
                          grpc::InsecureChannelCredentials()));
  auto safety = [&]() {
    rebound::v1::AssessDraftRequest req;
    req.set_tenant_id(tenant_);
    req.set_sender_id("legacy");
    req.set_recipient_id("someone");
    *req.mutable_request()->mutable_sender_profile() = testing::NormalProfile();
    *req.mutable_request()->mutable_recipient_profile() =
        testing::NormalProfile();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(10));
    rebound::v1::Assessment a;
    grpc::Status st = stub->AssessDraft(&ctx, req, &a);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return a.account_safety();
  };
  auto s = safety();
  EXPECT_TRUE(s.recent_answers().all_time());
  EXPECT_EQ(s.recent_answers().window_weeks(), 0);
  EXPECT_EQ(s.recent_answers().accepted(), 6);
  EXPECT_EQ(s.recent_answers().declined(), 4);
  EXPECT_EQ(s.recent_answers().dont_know(), 6);
  EXPECT_EQ(s.answered(), 16);
  EXPECT_GT(s.report_rate(), 0.2);  // 6 / (16 + 10 smoothing)
  EXPECT_TRUE(s.at_risk());

  const absl::Time now = absl::Now();
  testing::Scenario sc(tenant_);
  sc.Sent("legacy", "new", "q-new", now - absl::Hours(2),
          testing::NormalProfile(), testing::NormalProfile(), "");
  sc.Accepted("legacy", "new", "q-new", now - absl::Hours(1));
  Publish(sc.events());
  std::string before;
  for (int i = 0; i < 400 && before.empty(); ++i) {
    auto r = redis.Command({"HGET", key, "ar0"});
    if (r.ok() && !r->is_nil()) before = r->str;
    if (before.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int64_t week =
      state::UtcWeek(state::UtcDay(absl::ToUnixSeconds(now - absl::Hours(1))));
  EXPECT_EQ(before, absl::StrCat(week, ":6:4:0:6:0"));
  s = safety();
  EXPECT_TRUE(s.recent_answers().all_time());
  EXPECT_EQ(s.recent_answers().accepted(), 7);
  EXPECT_EQ(s.answered(), 17);
  EXPECT_TRUE(scoring->Shutdown().ok());
}

// rebound_members_at_risk{tenant} as last refreshed; -1 when never set.
double AtRiskGauge(prometheus::Registry& registry, const std::string& tenant) {
  for (const auto& family : registry.Collect()) {
    if (family.name != "rebound_members_at_risk") continue;
    for (const auto& m : family.metric) {
      for (const auto& l : m.label) {
        if (l.name == "tenant" && l.value == tenant) return m.gauge.value;
      }
    }
  }
  return -1;
}

// Members whose sending puts their account at risk are kept per tenant as
// events arrive (the retry policy's levels) and counted by
// rebound_members_at_risk; a member leaves the set when the risk is gone.
TEST_F(ScoringIntegration, MembersAtRiskAreCountedPerTenant) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto scoring = StartAtRiskScoring(registry);
  ASSERT_NE(scoring, nullptr);
  auto gauge = [&]() -> double {
    scoring->RefreshAtRisk();
    return AtRiskGauge(*registry, tenant_);
  };
  RedisClient redis(RedisOptions{redis_});
  auto at_risk = [&](const std::string& member) {
    auto r = redis.Command({"SISMEMBER", state::TenantKeys(tenant_).AtRisk(),
                            state::EscapeId(member)});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->integer == 1;
  };
  // busy: 110 invitations within a day, 12 days ago (over the weekly
  // budget of 100); calm: 5.
  const absl::Time now = absl::Now();
  testing::Scenario sc(tenant_);  // One scenario: event ids stay unique.
  for (int i = 0; i < 110; ++i) {
    sc.Sent("busy", absl::StrCat("r", i), absl::StrCat("q", i),
            now - absl::Hours(24 * 12) + absl::Minutes(i),
            testing::NormalProfile(), testing::NormalProfile(), "");
  }
  for (int i = 0; i < 5; ++i) {
    sc.Sent("calm", absl::StrCat("r", i), absl::StrCat("c", i),
            now - absl::Hours(24 * 12) + absl::Minutes(i),
            testing::NormalProfile(), testing::NormalProfile(), "");
  }
  // reporter: 20 invitations 3 days ago, 10 accepted, 4 reported "I don't
  // know this person": a recent report rate of 4 / (14 + 10 smoothing).
  // veteran: the same 50 days ago (at risk as of those answers).
  for (const auto& [who, ago] :
       {std::pair<std::string, int>{"reporter", 3}, {"veteran", 50}}) {
    for (int i = 0; i < 20; ++i) {
      const std::string r = absl::StrCat("r", i), q = absl::StrCat(who, i);
      const absl::Time at = now - absl::Hours(24 * ago) + absl::Minutes(i);
      sc.Sent(who, r, q, at, testing::NormalProfile(), testing::NormalProfile(),
              "");
      if (i < 10) sc.Accepted(who, r, q, at + absl::Hours(2));
      if (i >= 10 && i < 14) {
        sc.Declined(who, r, q, at + absl::Hours(2),
                    rebound::v1::DECLINE_KIND_REPORTED_UNKNOWN);
      }
    }
  }
  const std::vector<ConnectionEvent> first = sc.events();
  Publish(first);
  ASSERT_TRUE(CountersReach(first, seconds(60)));
  EXPECT_TRUE(at_risk("busy"));
  EXPECT_FALSE(at_risk("calm"));
  EXPECT_TRUE(at_risk("reporter"));
  EXPECT_TRUE(at_risk("veteran"));  // As of its last answer, 7 weeks ago.
  // The refresh re-judges the set as of now: veteran's reports have aged
  // out of the recent window without any new activity.
  EXPECT_EQ(gauge(), 2);
  EXPECT_FALSE(at_risk("veteran"));
  EXPECT_TRUE(at_risk("busy"));  // 110 invitations still pending.
  // A member taken out of the set while still at risk (a sweep racing an
  // event) comes back at its next event.
  ASSERT_TRUE(redis
                  .Command({"SREM", state::TenantKeys(tenant_).AtRisk(),
                            state::EscapeId("reporter")})
                  .ok());
  sc.Sent("reporter", "again", "rep-late", now - absl::Hours(1),
          testing::NormalProfile(), testing::NormalProfile(), "");

  // Every invitation accepted, then one more send today: the week is calm
  // and nothing is pending any more.
  for (int i = 0; i < 110; ++i) {
    sc.Accepted("busy", absl::StrCat("r", i), absl::StrCat("q", i),
                now - absl::Hours(24 * 10));
  }
  sc.Sent("busy", "late", "q-late", now - absl::Hours(1),
          testing::NormalProfile(), testing::NormalProfile(), "");
  // veteran sends again today: the reports of 7 weeks ago are out of the
  // recent window, so they no longer count against the account.
  sc.Sent("veteran", "new", "v-late", now - absl::Hours(1),
          testing::NormalProfile(), testing::NormalProfile(), "");
  Publish(std::vector<ConnectionEvent>(sc.events().begin() + first.size(),
                                       sc.events().end()));
  ASSERT_TRUE(CountersReach(sc.events(), seconds(60)));
  EXPECT_FALSE(at_risk("busy"));
  EXPECT_FALSE(at_risk("veteran"));
  EXPECT_TRUE(at_risk("reporter"));
  EXPECT_EQ(gauge(), 1);
  EXPECT_TRUE(scoring->Shutdown().ok());
}

// A tenant whose at-risk set cannot be read (here a key of the wrong type)
// keeps its last figure; the refresh goes on to the other tenants.
TEST_F(ScoringIntegration, TheAtRiskRefreshGoesOnPastABrokenTenant) {
  auto registry = std::make_shared<prometheus::Registry>();
  auto scoring = StartAtRiskScoring(registry);
  ASSERT_NE(scoring, nullptr);
  RedisClient redis(RedisOptions{redis_});
  // Many, so that some come before the test's tenant in SMEMBERS order
  // (all 40 after it: a chance of 1 in 41). Taken out of the shared Redis
  // however the test ends.
  std::vector<std::string> broken;
  struct Cleanup {
    RedisClient& redis;
    std::vector<std::string>& tenants;
    ~Cleanup() {
      for (const auto& b : tenants) {
        redis.Command({"SREM", state::TenantsKey(), b}).IgnoreError();
        redis.Command({"DEL", state::TenantKeys(b).AtRisk()}).IgnoreError();
      }
    }
  } cleanup{redis, broken};
  for (int i = 0; i < 40; ++i) {
    broken.push_back(absl::StrCat(tenant_, "-broken", i));
    ASSERT_TRUE(
        redis.Command({"SADD", state::TenantsKey(), broken.back()}).ok());
    ASSERT_TRUE(
        redis.Command({"SET", state::TenantKeys(broken.back()).AtRisk(), "x"})
            .ok());
  }
  const absl::Time now = absl::Now();
  testing::Scenario sc(tenant_);
  for (int i = 0; i < 110; ++i) {  // Over the weekly budget: at risk.
    sc.Sent("busy", absl::StrCat("r", i), absl::StrCat("q", i),
            now - absl::Hours(24) + absl::Minutes(i), testing::NormalProfile(),
            testing::NormalProfile(), "");
  }
  Publish(sc.events());
  ASSERT_TRUE(CountersReach(sc.events(), seconds(60)));
  scoring->RefreshAtRisk();
  EXPECT_EQ(AtRiskGauge(*registry, tenant_), 1);
  for (const auto& b : broken) EXPECT_EQ(AtRiskGauge(*registry, b), -1);
  EXPECT_TRUE(scoring->Shutdown().ok());
}

TEST_F(ScoringIntegration, HostileIdsKeepToTheirOwnKeys) {
  // Ids are untrusted text. Member "carol}:req:Y" used to build the key
  // rb:{t/carol}:req:Y}:sends, the name of member carol's request
  // "Y}:sends": a sorted set where a hash was expected, WRONGTYPE, and the
  // consumer retried it forever. Every id is escaped now: each member below
  // gets exactly its own counters and the stream flows on.
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  std::string wide;
  for (int i = 0; i < 32; ++i) wide += "\xF0\x9F\x98\x80";  // 128 bytes.
  struct Request {
    std::string sender, recipient, request;
  };
  const std::vector<Request> requests = {
      {"carol}:req:Y", "x{1}", "r:1"}, {"carol", "dave", "Y}:sends"},
      {"{carol}", "carol}", "{}"},     {wide, "a b:c", "\xC3\xA9 %41:req:"},
      {"carol}:snd", "%7D", "sends"},
  };
  testing::Scenario s(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(48);
  for (const auto& r : requests) {
    s.Sent(r.sender, r.recipient, r.request, t0, testing::NormalProfile(),
           testing::NormalProfile(), "hello");
    s.Declined(r.sender, r.recipient, r.request, t0 + absl::Hours(1),
               rebound::v1::DECLINE_KIND_IGNORED);
  }
  Publish(s.events());
  testing::ScoresReader reader(redis_);
  for (const auto& r : requests) {
    EXPECT_TRUE(reader.WaitFor(
        tenant_, r.sender,
        [](const auto& m) {
          return m.as_sender().sent() == 1 && m.as_sender().declined() == 1;
        },
        seconds(60)))
        << "sender " << r.sender;
    EXPECT_TRUE(reader.WaitFor(
        tenant_, r.recipient,
        [](const auto& m) {
          return m.as_recipient().received() == 1 &&
                 m.as_recipient().declined() == 1;
        },
        seconds(30)))
        << "recipient " << r.recipient;
  }
  // Nothing counted twice, nothing leaked to a look-alike member.
  for (const auto& r : requests) {
    auto m = reader.Get(tenant_, r.sender);
    ASSERT_TRUE(m.ok()) << r.sender;
    EXPECT_EQ(m->as_sender().sent(), 1) << r.sender;
    EXPECT_EQ(m->as_sender().pending(), 0) << r.sender;
  }
  auto carol = reader.Get(tenant_, "carol");
  ASSERT_TRUE(carol.ok());
  EXPECT_EQ(carol->as_recipient().received(), 0);
  const int64_t events = static_cast<int64_t>(s.events().size());
  auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (scoring->consumer()->processed() < events &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(scoring->consumer()->processed(), events);
  EXPECT_TRUE(scoring->consumer()->healthy());
}

TEST_F(ScoringIntegration, LostRedisStateIsNoticedAndRebuiltFromKafka) {
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  auto events = testing::SimulatedStream(tenant_, 3000, 17);
  const size_t half = events.size() / 2;
  std::vector<ConnectionEvent> first(events.begin(), events.begin() + half);
  std::vector<ConnectionEvent> second(events.begin() + half, events.end());
  Publish(first);
  testing::ScoresReader reader(redis_);
  ASSERT_TRUE(reader.WaitForCounters(tenant_, testing::ExpectedCounters(first),
                                     seconds(120)))
      << reader.last_mismatch();
  EXPECT_FALSE(scoring->consumer()->state_lost());

  // Redis loses everything (as a restart without persistence would).
  {
    RedisOptions o;
    o.address = redis_;
    RedisClient r(o);
    ASSERT_TRUE(r.Command({"FLUSHALL"}).ok());
  }
  Publish(second);
  auto until = std::chrono::steady_clock::now() + seconds(30);
  while (!scoring->consumer()->state_lost() &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(scoring->consumer()->state_lost()) << "the loss went unnoticed";
  EXPECT_FALSE(scoring->consumer()->healthy())
      << "health must not say SERVING on a lost state";

  scoring::RebuildOptions ro;
  ro.brokers = brokers_;
  ro.events_topic = topic_;
  ro.verdicts_topic = topic_ + "-verdicts";
  ro.store.redis.address = redis_;
  auto report = scoring::RebuildState(ro, classifier_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GE(report->events_applied, static_cast<int64_t>(half));
  EXPECT_GT(report->verdicts_reused, 0);

  // Scoring resumes, and the state equals an uninterrupted run's: the
  // counters, and the declines per reason (the published verdicts').
  EXPECT_TRUE(reader.WaitForCounters(tenant_, testing::ExpectedCounters(events),
                                     seconds(120)))
      << reader.last_mismatch();
  until = std::chrono::steady_clock::now() + seconds(30);
  while (!scoring->consumer()->healthy() &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(scoring->consumer()->healthy());
  EXPECT_FALSE(scoring->consumer()->state_lost());
  std::map<std::string, std::map<std::string, int64_t>> want;
  std::set<std::string> seen;
  size_t declines = 0;
  for (const auto& e : events) {
    if (e.has_request_declined() || e.has_request_expired()) ++declines;
  }
  // Every decline's verdict is published (some twice: re-published after
  // the rebuild); each verdict id counts once.
  for (int i = 0; i < 100; ++i) {
    auto recs = tools::ReadTopic(brokers_, topic_ + "-verdicts", seconds(30));
    ASSERT_TRUE(recs.ok()) << recs.status();
    want.clear();
    seen.clear();
    for (const auto& r : *recs) {
      // Profile updates scoring forwarded to notify share the topic.
      if (r.Header("ce_type") == pipeline::kEventType) continue;
      rebound::v1::DeclineVerdict v;
      ASSERT_TRUE(v.ParseFromString(r.value));
      if (!seen.insert(v.verdict_id()).second) continue;
      ++want[v.sender_id()]
            [rebound::v1::DeclineReason_Name(v.primary_reason())];
    }
    if (seen.size() >= declines) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(seen.size(), declines);
  for (const auto& [sender, reasons] : want) {
    auto got = reader.Get(tenant_, sender);
    ASSERT_TRUE(got.ok()) << sender;
    std::map<std::string, int64_t> have(
        got->as_sender().declines_by_reason().begin(),
        got->as_sender().declines_by_reason().end());
    EXPECT_EQ(have, reasons) << sender;
  }
}

TEST_F(ScoringIntegration, ScoringOnARedisClusterCountsEveryEventOnce) {
  // The same service, its Redis a 3-master cluster (seed list): every key
  // of a call shares one slot, the client follows the slot map.
  redis_ = testing::RequiredEnv("REBOUND_REDIS_CLUSTER_ADDR");
  ASSERT_FALSE(redis_.empty());
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  auto events = testing::SimulatedStream(tenant_, 3000, 29);
  Publish(events);
  EXPECT_TRUE(CountersReach(events, seconds(120)));
  EXPECT_TRUE(scoring->consumer()->healthy());
}

TEST_F(ScoringIntegration, BatchedDeclinesGetTheVerdictsOfTheReference) {
  // Scoring batches for up to 200 ms and reads many declines' contexts in
  // one round trip; each must still see exactly the events before it. On
  // one partition the order is the file's, so every verdict must equal the
  // reference (OfflineState, one event at a time) for the same stream.
  partitions_ = 1;
  auto options = ScoringOptions(topic_);
  options.scoring.batch_linger = std::chrono::milliseconds(200);
  auto scoring = scoring::ScoringServer::Start(
      options, classifier_, std::make_shared<prometheus::Registry>());
  ASSERT_TRUE(scoring.ok()) << scoring.status();
  auto events = testing::SimulatedStream(tenant_, 3000, 41);
  // And a burst: one sender's twelve declines in a row, each of which must
  // count the ones before it (its acceptance-rate signal says so).
  testing::Scenario burst(tenant_);
  const absl::Time t0 = absl::Now() - absl::Hours(72);
  for (int i = 0; i < 12; ++i) {
    burst.Sent("burst-s", absl::StrCat("burst-r", i), absl::StrCat("b", i),
               t0 + absl::Minutes(i), testing::NormalProfile(),
               testing::NormalProfile(), "");
  }
  for (int i = 0; i < 12; ++i) {
    burst.Declined("burst-s", absl::StrCat("burst-r", i), absl::StrCat("b", i),
                   t0 + absl::Hours(1) + absl::Minutes(i),
                   rebound::v1::DECLINE_KIND_DECLINED);
  }
  events.insert(events.begin() + 1500, burst.events().begin(),
                burst.events().end());
  std::map<std::string, rebound::v1::DeclineVerdict> want;
  scoring::OfflineState reference;
  std::set<std::string> seen;
  for (const auto& e : events) {
    if (!seen.insert(e.event_id()).second) continue;
    if (auto ctx = reference.ContextFor(e)) {
      want[e.event_id()] = scoring::Classify(classifier_, *ctx);
    }
    reference.Apply(e);
  }
  ASSERT_GT(want.size(), 200u);
  Publish(events);
  std::map<std::string, rebound::v1::DeclineVerdict> got;
  for (int i = 0; i < 120 && got.size() < want.size(); ++i) {
    auto records =
        tools::ReadTopic(brokers_, topic_ + "-verdicts", seconds(30));
    ASSERT_TRUE(records.ok()) << records.status();
    for (const auto& r : *records) {
      if (r.Header("ce_type") == pipeline::kEventType) continue;
      rebound::v1::DeclineVerdict v;
      ASSERT_TRUE(v.ParseFromString(r.value));
      got[v.verdict_id()] = v;
    }
    if (got.size() < want.size())
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_EQ(got.size(), want.size());
  int differ = 0;
  for (const auto& [id, w] : want) {
    auto it = got.find(id);
    ASSERT_NE(it, got.end()) << "no verdict for " << id;
    // Everything but the time of deciding and the context carried for
    // notify (checked in RequestViewDeclineGivesVerdictAndCounters): reason,
    // scores, every signal's value and weight (counts included), the
    // request as seen.
    rebound::v1::DeclineVerdict g = it->second, r = w;
    g.clear_decided_at();
    r.clear_decided_at();
    g.clear_context();
    std::string diff;
    google::protobuf::util::MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    if (!d.Compare(r, g) && ++differ <= 3) {
      ADD_FAILURE() << id << " (reference -> online):\n" << diff;
    }
  }
  EXPECT_EQ(differ, 0) << "of " << want.size() << " verdicts";
}

TEST_F(ScoringIntegration, ReplayFromScratchChangesNothing) {
  auto events = testing::SimulatedStream(tenant_, 3000, 11);
  Publish(events);
  auto expected = testing::ExpectedCounters(events);
  testing::ScoresReader reader(redis_);
  {
    auto first = StartScoring(topic_ + "-g1");
    ASSERT_NE(first, nullptr);
    ASSERT_TRUE(reader.WaitForCounters(tenant_, expected, seconds(120)))
        << reader.last_mismatch();
  }
  auto before = reader.Snapshot(tenant_);
  ASSERT_GT(before.size(), 100u);
  {
    // A new group starts from the earliest offset: the whole topic again.
    auto replay = StartScoring(topic_ + "-g2");
    ASSERT_NE(replay, nullptr);
    auto until = std::chrono::steady_clock::now() + seconds(120);
    while (replay->consumer()->processed() <
               static_cast<int64_t>(events.size()) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_EQ(replay->consumer()->processed(),
              static_cast<int64_t>(events.size()));
  }
  auto after = reader.Snapshot(tenant_);
  EXPECT_EQ(before.size(), after.size());
  for (const auto& [key, value] : before) {
    auto it = after.find(key);
    ASSERT_NE(it, after.end()) << key << " vanished on replay";
    EXPECT_EQ(it->second, value) << key << " changed on replay";
  }
}

TEST_F(ScoringIntegration, TwoInstancesEndWhereOneDoes) {
  auto events = testing::SimulatedStream(tenant_, 4000, 23);
  auto expected = testing::ExpectedCounters(events);
  auto a = StartScoring(topic_);
  auto b = StartScoring(topic_);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  // Share the partitions before the stream starts.
  auto until = std::chrono::steady_clock::now() + seconds(60);
  while ((a->consumer()->assigned_partitions() == 0 ||
          b->consumer()->assigned_partitions() == 0 ||
          a->consumer()->assigned_partitions() +
                  b->consumer()->assigned_partitions() !=
              4) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(a->consumer()->assigned_partitions() +
                b->consumer()->assigned_partitions(),
            4);
  Publish(events);
  testing::ScoresReader reader(redis_);
  ASSERT_TRUE(reader.WaitForCounters(tenant_, expected, seconds(120)))
      << reader.last_mismatch();
  // An event with a verdict counts as processed once Kafka confirmed its
  // verdict, which comes after its counters are in Redis: wait for those
  // last delivery reports (seen lagging by one batch, 341 events).
  const auto total = [&] {
    return a->consumer()->processed() + b->consumer()->processed();
  };
  until = std::chrono::steady_clock::now() + seconds(30);
  while (total() < static_cast<int64_t>(events.size()) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GT(a->consumer()->processed(), 0) << "instance a got no partition";
  EXPECT_GT(b->consumer()->processed(), 0) << "instance b got no partition";
  EXPECT_EQ(total(), static_cast<int64_t>(events.size()));
}

// Each scoring instance keeps the senders of its partitions in process.
// A partition that moves away and comes back must be loaded again: here
// instance a owns everything, gives half to b (which writes to those
// senders), then gets it back when b stops. Had a kept what it knew of
// those senders, its writes would roll b's counts back.
TEST_F(ScoringIntegration, PartitionsMovingAwayAndBackLeaveCountersExact) {
  auto events = testing::SimulatedStream(tenant_, 6000, 31);
  const size_t third = events.size() / 3;
  const std::vector<ConnectionEvent> first(events.begin(),
                                           events.begin() + third),
      second(events.begin() + third, events.begin() + 2 * third),
      last(events.begin() + 2 * third, events.end());
  testing::ScoresReader reader(redis_);
  auto wait_assigned = [&](auto check) {
    auto until = std::chrono::steady_clock::now() + seconds(60);
    while (!check() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return check();
  };
  auto a = StartScoring(topic_);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(
      wait_assigned([&] { return a->consumer()->assigned_partitions() == 4; }));
  Publish(first);
  ASSERT_TRUE(reader.WaitForCounters(tenant_, testing::ExpectedCounters(first),
                                     seconds(120)))
      << reader.last_mismatch();
  std::vector<ConnectionEvent> so_far = first;
  {
    auto b = StartScoring(topic_);
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(wait_assigned([&] {
      return b->consumer()->assigned_partitions() > 0 &&
             a->consumer()->assigned_partitions() +
                     b->consumer()->assigned_partitions() ==
                 4;
    }));
    Publish(second);
    so_far.insert(so_far.end(), second.begin(), second.end());
    ASSERT_TRUE(reader.WaitForCounters(
        tenant_, testing::ExpectedCounters(so_far), seconds(120)))
        << reader.last_mismatch();
    EXPECT_GT(b->consumer()->processed(), 0) << "b got no event";
  }
  ASSERT_TRUE(
      wait_assigned([&] { return a->consumer()->assigned_partitions() == 4; }));
  Publish(last);
  ASSERT_TRUE(reader.WaitForCounters(tenant_, testing::ExpectedCounters(events),
                                     seconds(120)))
      << reader.last_mismatch();
}

TEST_F(ScoringIntegration,
       UndecodableRecordGoesToDeadLetterAndConsumptionGoesOn) {
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  testing::Scenario s(tenant_);
  s.Sent("after-dlq", "x", "r1", absl::Now() - absl::Hours(1),
         testing::NormalProfile(), testing::NormalProfile(), "");
  ASSERT_TRUE(testing::ProduceRaw(brokers_, topic_, "garbage/key",
                                  "\xff\xff not protobuf"));
  Publish(s.events());
  testing::ScoresReader reader(redis_);
  EXPECT_TRUE(reader.WaitFor(
      tenant_, "after-dlq",
      [](const auto& m) { return m.as_sender().sent() == 1; }, seconds(60)));
  std::vector<tools::KafkaRecord> dlq;
  ASSERT_NO_FATAL_FAILURE(ReadDeadLetters(&dlq));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].key, "garbage/key");
  EXPECT_NE(dlq[0].Header("rebound_dlq_reason").find("undecodable"),
            std::string::npos);
  EXPECT_EQ(dlq[0].Header("rebound_source_topic"), topic_);
}

// A dead letter Kafka refuses for good (larger than the dead-letter topic
// takes) goes again without its value, and the partition moves on: its
// committed offset passes the bad record.
TEST_F(ScoringIntegration, ADeadLetterKafkaRefusesGoesWithoutItsValue) {
  partitions_ = 1;
  {
    PublisherOptions po;
    po.brokers = brokers_;
    auto admin = Publisher::Create(po);
    ASSERT_TRUE(admin.ok()) << admin.status();
    TopicSpec dlq{topic_ + "-dlq", 1, 1, {{"max.message.bytes", "2000"}}};
    ASSERT_TRUE(
        EnsureTopics((*admin)->handle(), {{topic_, 1, 1, {}}, dlq}, seconds(30))
            .ok());
  }
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  // Random bytes: lz4 cannot shrink them under the topic's limit.
  std::string big(5000, '\0');
  std::mt19937 random(7);
  for (char& c : big) c = static_cast<char>(random());
  ASSERT_TRUE(testing::ProduceRaw(brokers_, topic_, "big/key", big));
  testing::Scenario s(tenant_);
  s.Sent("after-big", "x", "r1", absl::Now() - absl::Hours(1),
         testing::NormalProfile(), testing::NormalProfile(), "");
  Publish(s.events());
  testing::ScoresReader reader(redis_);
  EXPECT_TRUE(reader.WaitFor(
      tenant_, "after-big",
      [](const auto& m) { return m.as_sender().sent() == 1; }, seconds(60)));
  std::vector<tools::KafkaRecord> dlq;
  ASSERT_NO_FATAL_FAILURE(ReadDeadLetters(&dlq));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_EQ(dlq[0].key, "big/key");
  EXPECT_TRUE(dlq[0].value.empty());
  EXPECT_NE(dlq[0].Header("rebound_dlq_value_dropped").find("5000 bytes"),
            std::string::npos)
      << dlq[0].Header("rebound_dlq_value_dropped");
  EXPECT_FALSE(dlq[0].Header("rebound_dlq_reason").empty());
  EXPECT_EQ(dlq[0].Header("rebound_source_offset"), "0");
  ASSERT_TRUE(scoring->Shutdown().ok());
  EXPECT_EQ(testing::CommittedOffset(brokers_, topic_, topic_, 0), 2)
      << "the partition's committed offset did not pass the bad record";
}

// A verdicts topic that refuses every record for good (its
// max.message.bytes under any verdict's size): each verdict goes to the
// dead-letter topic with the reason, the events' effects are written, the
// partition's committed offset passes them all, and scoring stays SERVING
// (the dead-letter topic took them) instead of sending them again forever.
TEST_F(ScoringIntegration, AVerdictItsTopicRefusesForGoodIsDeadLettered) {
  partitions_ = 1;
  {
    PublisherOptions po;
    po.brokers = brokers_;
    auto admin = Publisher::Create(po);
    ASSERT_TRUE(admin.ok()) << admin.status();
    TopicSpec verdicts{
        topic_ + "-verdicts", 1, 1, {{"max.message.bytes", "64"}}};
    ASSERT_TRUE(EnsureTopics((*admin)->handle(), {{topic_, 1, 1, {}}, verdicts},
                             seconds(30))
                    .ok());
  }
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  testing::Scenario s(tenant_);
  const absl::Time t = absl::Now() - absl::Hours(2);
  s.Sent("ann", "bob", "q1", t, testing::NormalProfile(),
         testing::NormalProfile(), "");
  s.Declined("ann", "bob", "q1", t + absl::Minutes(30),
             rebound::v1::DECLINE_KIND_DECLINED);
  Publish(s.events());
  testing::ScoresReader reader(redis_);
  EXPECT_TRUE(reader.WaitFor(
      tenant_, "ann",
      [](const auto& m) { return m.as_sender().declined() == 1; },
      seconds(60)));
  std::vector<tools::KafkaRecord> dlq;
  ASSERT_NO_FATAL_FAILURE(ReadDeadLetters(&dlq));
  ASSERT_EQ(dlq.size(), 1u);
  EXPECT_NE(dlq[0].Header("rebound_dlq_reason").find(topic_ + "-verdicts"),
            std::string::npos)
      << dlq[0].Header("rebound_dlq_reason");
  EXPECT_EQ(dlq[0].Header("rebound_source_offset"), "1");
  rebound::v1::DeclineVerdict v;
  EXPECT_TRUE(v.ParseFromString(dlq[0].value)) << "the verdict, kept whole";
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", scoring->port()),
                          grpc::InsecureChannelCredentials());
  EXPECT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 1, seconds(10)));
  ASSERT_TRUE(scoring->Shutdown().ok());
  EXPECT_EQ(testing::CommittedOffset(brokers_, topic_, topic_, 0), 2)
      << "the partition's committed offset did not pass the refused verdict";
}

// An event Redis refuses for good (one of its member's keys has the wrong
// type) is dead-lettered with Redis's reason; the events around it, of
// another tenant and of its own, in the same partition, are all applied,
// and Redis is not reported down.
TEST_F(ScoringIntegration, APoisonEventIsDeadLetteredAndDelaysNoOtherEvent) {
  partitions_ = 1;
  const std::string other = tenant_ + "-b";
  {
    RedisClient redis(RedisOptions{redis_});
    ASSERT_TRUE(
        redis
            .Command({"SET", state::MemberKeys(tenant_, "poisoned").Sender(),
                      "not a hash"})
            .ok());
  }
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  auto before = testing::SimulatedStream(other, 300, 11);
  auto after = testing::SimulatedStream(other, 300, 12);
  // One scenario: its event ids are unique within it.
  testing::Scenario own(tenant_);
  own.Sent("poisoned", "x", "r1", absl::Now() - absl::Hours(1),
           testing::NormalProfile(), testing::NormalProfile(), "");
  own.Sent("fine", "x", "r2", absl::Now() - absl::Hours(1),
           testing::NormalProfile(), testing::NormalProfile(), "");
  std::vector<ConnectionEvent> all = before;
  all.insert(all.end(), own.events().begin(), own.events().end());
  // The second stream reuses event ids of the first: a tenant apart.
  for (auto e : after) {
    e.set_tenant_id(other + "2");
    all.push_back(e);
  }
  Publish(all);
  auto expected = testing::ExpectedCounters(before);
  testing::ScoresReader reader(redis_);
  EXPECT_TRUE(reader.WaitForCounters(other, expected, seconds(60)))
      << reader.last_mismatch();
  std::vector<ConnectionEvent> after2;
  for (auto e : after) {
    e.set_tenant_id(other + "2");
    after2.push_back(e);
  }
  EXPECT_TRUE(reader.WaitForCounters(
      other + "2", testing::ExpectedCounters(after2), seconds(60)))
      << reader.last_mismatch();
  EXPECT_TRUE(reader.WaitFor(
      tenant_, "fine", [](const auto& m) { return m.as_sender().sent() == 1; },
      seconds(30)));
  std::vector<tools::KafkaRecord> dlq;
  ASSERT_NO_FATAL_FAILURE(ReadDeadLetters(&dlq));
  ASSERT_EQ(dlq.size(), 1u);
  ConnectionEvent got;
  ASSERT_TRUE(got.ParseFromString(dlq[0].value));
  EXPECT_EQ(got.sender_id(), "poisoned");
  EXPECT_NE(dlq[0].Header("rebound_dlq_reason").find("WRONGTYPE"),
            std::string::npos)
      << dlq[0].Header("rebound_dlq_reason");
  EXPECT_TRUE(scoring->consumer()->healthy())
      << "a refused event made scoring report Redis down";
  const int64_t total = static_cast<int64_t>(all.size());
  for (int i = 0; i < 100 && scoring->consumer()->processed() < total; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(scoring->consumer()->processed(), total);
}

// A Redis that comes back empty while nothing flows is noticed too: health
// NOT_SERVING and the loss reported, without waiting for the next event.
TEST_F(ScoringIntegration, AnIdleScoringNoticesRedisCameBackEmpty) {
  testing::PrivateServer redis("redis");
  std::string out;
  ASSERT_TRUE(redis.Start(&out)) << out;
  redis_ = redis.address();
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  auto events = testing::SimulatedStream(tenant_, 200, 23);
  Publish(events);
  ASSERT_TRUE(CountersReach(events, seconds(60)));
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", scoring->port()),
                          grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 1, seconds(30)));
  {
    RedisOptions o;
    o.address = redis_;
    RedisClient r(o);
    ASSERT_TRUE(r.Command({"FLUSHALL"}).ok());
  }
  EXPECT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 2, seconds(15)))
      << "an idle scoring stayed SERVING on an emptied Redis";
  EXPECT_TRUE(scoring->consumer()->state_lost());
}

// More scoring replicas than partitions: the one without a partition
// serves reads too, so when Redis loses its state it must stop saying
// SERVING like the consuming one.
TEST_F(ScoringIntegration, AScoringWithoutPartitionsNoticesLostStateToo) {
  testing::PrivateServer redis("redis");
  std::string out;
  ASSERT_TRUE(redis.Start(&out)) << out;
  redis_ = redis.address();
  partitions_ = 1;
  auto a = StartScoring(topic_);
  ASSERT_NE(a, nullptr);
  auto b = StartScoring(topic_);
  ASSERT_NE(b, nullptr);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const auto* s : {a.get(), b.get()}) {
    channels.push_back(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", s->port()),
                            grpc::InsecureChannelCredentials()));
    ASSERT_TRUE(testing::WaitForHealth(channels.back(), "rebound.v1.Scoring", 1,
                                       seconds(60)));
  }
  RedisOptions o;
  o.address = redis_;
  RedisClient r(o);
  bool made = false;
  for (int i = 0; i < 300 && !made; ++i) {
    auto n = r.Command({"EXISTS", state::EpochKey()});
    made = n.ok() && n->integer == 1;
    if (!made) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(made) << "no scoring epoch in Redis";
  // A check or two (each second) for the other replica to adopt it.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ASSERT_TRUE(r.Command({"FLUSHALL"}).ok());
  for (const auto& channel : channels) {
    EXPECT_TRUE(
        testing::WaitForHealth(channel, "rebound.v1.Scoring", 2, seconds(15)))
        << "a scoring replica stayed SERVING after Redis lost its state";
  }
}

TEST_F(ScoringIntegration, RedisDownStopsProgressThenNothingIsLost) {
  testing::PrivateServer redis("redis");
  std::string out;
  ASSERT_TRUE(redis.Start(&out)) << out;
  redis_ = redis.address();
  auto scoring = StartScoring(topic_);
  ASSERT_NE(scoring, nullptr);
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", scoring->port()),
                          grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 1, seconds(30)));
  ASSERT_TRUE(redis.Stop(&out)) << out;
  // Nothing flows yet: an idle scoring must notice too.
  EXPECT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 2, seconds(15)))
      << "an idle scoring stayed SERVING with Redis down";
  auto events = testing::SimulatedStream(tenant_, 1500, 5);
  auto expected = testing::ExpectedCounters(events);
  Publish(events);
  EXPECT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 2, seconds(30)))
      << "health stayed SERVING with Redis down";
  int64_t stuck = scoring->consumer()->processed();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_EQ(scoring->consumer()->processed(), stuck)
      << "progress while Redis is down";
  ASSERT_TRUE(redis.Start(&out)) << out;
  testing::ScoresReader reader(redis.address());
  EXPECT_TRUE(reader.WaitForCounters(tenant_, expected, seconds(120)))
      << reader.last_mismatch();
  EXPECT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 1, seconds(30)));
}

// A Redis outage longer than max.poll.interval.ms (here 6 s): the waiting
// instance loses its group membership, and what it holds is dropped
// unwritten (counted), not written beside the partitions' next owner;
// with Redis back, every member's counters are exact.
TEST_F(ScoringIntegration, AnInstanceEvictedWhileRedisIsDownWritesNothingHeld) {
  testing::PrivateServer redis("redis");
  std::string out;
  ASSERT_TRUE(redis.Start(&out)) << out;
  redis_ = redis.address();
  auto options = ScoringOptions(topic_);
  options.scoring.consumer_properties = {{"session.timeout.ms", "6000"},
                                         {"max.poll.interval.ms", "6000"}};
  auto registry = std::make_shared<prometheus::Registry>();
  auto first = scoring::ScoringServer::Start(options, classifier_, registry);
  ASSERT_TRUE(first.ok()) << first.status();
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*first)->port()),
                          grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      testing::WaitForHealth(channel, "rebound.v1.Scoring", 1, seconds(30)));
  // Written once (the epoch adopted), then Redis goes while more come.
  auto events = testing::SimulatedStream(tenant_, 600, 7);
  const std::vector<ConnectionEvent> before(events.begin(),
                                            events.begin() + 100);
  Publish(before);
  ASSERT_TRUE(CountersReach(before, seconds(60)));
  ASSERT_TRUE(redis.Stop(&out)) << out;
  Publish({events.begin() + 100, events.end()});
  auto fenced = [&] {
    for (const auto& family : registry->Collect()) {
      if (family.name != "rebound_scoring_fenced_total") continue;
      for (const auto& m : family.metric) return m.counter.value;
    }
    return -1.0;
  };
  // Held past max.poll.interval.ms: evicted, and the held events dropped.
  const auto until = std::chrono::steady_clock::now() + seconds(40);
  while (fenced() < 1 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_GE(fenced(), 1) << "never dropped what it held after its eviction";
  // Redis comes back; a second instance joins; both write.
  ASSERT_TRUE(redis.Start(&out)) << out;
  auto second = StartScoring(topic_);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(CountersReach(events, seconds(120)));
}

}  // namespace
}  // namespace rebound
